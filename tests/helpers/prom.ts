/**
 * A parser for the Prometheus text and OpenMetrics expositions, so tests assert on parsed samples
 * instead of searching a blob. Handles escaped label values and OpenMetrics exemplars.
 */

/** One sample line. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly exemplar?: { readonly labels: Readonly<Record<string, string>>; readonly value: number };
}

/** A parsed exposition: samples plus the declared TYPE of each family. */
export interface Exposition {
  readonly samples: readonly Sample[];
  readonly types: ReadonlyMap<string, string>;
}

function parseLabels(text: string, start: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  let i = start + 1; // after "{"
  while (text[i] !== "}") {
    if (text[i] === ",") i++;
    if (text[i] === "}") break;
    const eq = text.indexOf("=", i);
    const key = text.slice(i, eq).trim();
    i = eq + 2; // skip ="
    let value = "";
    while (text[i] !== '"') {
      if (text[i] === "\\") {
        const next = text[i + 1];
        value += next === "n" ? "\n" : next;
        i += 2;
      } else {
        value += text[i++];
      }
    }
    labels[key] = value;
    i++; // closing quote
  }
  return [labels, i + 1];
}

function parseNumber(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN" || text === "Nan") return NaN;
  return Number(text);
}

/** Parses a whole exposition; throws on a line it cannot read. */
export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "" || line === "# EOF") continue;
    if (line.startsWith("# TYPE ")) {
      const [, , name, type] = line.split(" ");
      types.set(name, type);
      continue;
    }
    if (line.startsWith("#")) continue;
    const brace = line.indexOf("{");
    const space = line.indexOf(" ");
    let name: string;
    let labels: Record<string, string> = {};
    let rest: string;
    if (brace !== -1 && brace < space) {
      name = line.slice(0, brace);
      const [parsed, end] = parseLabels(line, brace);
      labels = parsed;
      rest = line.slice(end).trim();
    } else {
      name = line.slice(0, space);
      rest = line.slice(space + 1).trim();
    }
    let exemplar: Sample["exemplar"];
    const hash = rest.indexOf(" # ");
    if (hash !== -1) {
      const exText = rest.slice(hash + 3);
      const [exLabels, end] = parseLabels(exText, exText.indexOf("{"));
      exemplar = { labels: exLabels, value: parseNumber(exText.slice(end).trim().split(" ")[0]) };
      rest = rest.slice(0, hash);
    }
    const value = parseNumber(rest.split(" ")[0]);
    if (!name || Number.isNaN(value) && !/NaN|Nan/.test(rest)) {
      throw new Error(`unparseable exposition line: ${line}`);
    }
    samples.push({ name, labels, value, exemplar });
  }
  return { samples, types };
}

/** Samples of `name` whose labels include all of `match`. */
export function find(
  exposition: Exposition,
  name: string,
  match: Record<string, string> = {},
): Sample[] {
  return exposition.samples.filter((s) =>
    s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)
  );
}

/** The sum of the values of `name` samples matching `match` (0 when there are none). */
export function total(
  exposition: Exposition,
  name: string,
  match: Record<string, string> = {},
): number {
  return find(exposition, name, match).reduce((sum, s) => sum + s.value, 0);
}
