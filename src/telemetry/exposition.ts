/**
 * Serving /metrics in the format the scraper asks for: OpenMetrics 1.0 (with `trace_id`
 * exemplars) to a scraper that accepts it, else the classic text format 0.0.4 (no exemplars, no
 * `# EOF`, counter families named by their `_total` sample name).
 *
 * Both are written here from the metrics' values (`get()`, prom-client's public API), byte for
 * byte what prom-client renders (tests/telemetry/exposition_test.ts compares the two). prom-client's
 * own `registry.metrics()` is the bottleneck at scale: with 10,000 model × tenant series
 * (≈ 53,000 samples) it took 80–110 ms of CPU per render, most of it re-escaping and re-joining
 * every series' labels on every scrape (`formatLabels`, `escapeString`, `flattenSharedLabels`:
 * a third of its CPU profile) and collecting the garbage of that. Here the line of a series is
 * built once and reused while its value stays the same: 18–22 ms per render on the same machine,
 * of which about half is prom-client's `get()` copying each counter's series out of its hash map
 * (docs/benchmarks.md, "/metrics at scale").
 */
import client from "prom-client";

/** Content type of the classic Prometheus text format. */
export const PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
/** Content type of OpenMetrics 1.0. */
export const OPENMETRICS_TEXT = client.Registry.OPENMETRICS_CONTENT_TYPE;

/** True when an Accept header lets us answer OpenMetrics (Prometheus sends this by default). */
export function acceptsOpenMetrics(accept: string | null | undefined): boolean {
  if (!accept) return false;
  return accept.split(",").some((part) => {
    const [type, ...params] = part.trim().split(";").map((s) => s.trim());
    if (type !== "application/openmetrics-text") return false;
    const q = params.find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

type Labels = Readonly<Record<string, string | number>>;

/** One sample as a metric's `get()` (or a histogram's `getForPromString()`) hands it out. */
interface SampleValue {
  readonly value: number;
  readonly labels?: Labels;
  /** A histogram's own labels, beside a bucket's `le`. */
  readonly sharedLabels?: Labels;
  readonly metricName?: string;
  readonly exemplar?: {
    readonly labelSet: Labels;
    readonly value: number;
    readonly timestamp: number;
  } | null;
}

interface MetricData {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly values?: readonly SampleValue[];
}

interface Renderable {
  get(): Promise<MetricData> | MetricData;
  getForPromString?(): Promise<MetricData>;
}

/** `name="value"` pairs of a label set, escaped as prom-client does, joined by commas. */
function formatLabels(labels: Labels, exclude?: Labels): string {
  let out = "";
  for (const name in labels) {
    if (exclude !== undefined && Object.hasOwn(exclude, name)) continue;
    const value = labels[name];
    const text = typeof value === "string"
      ? escapeString(value).replaceAll('"', '\\"')
      : String(value);
    out += `${out ? "," : ""}${name}="${text}"`;
  }
  return out;
}

function escapeString(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function valueString(value: number): string {
  if (Number.isNaN(value)) return "Nan";
  if (!Number.isFinite(value)) return value < 0 ? "-Inf" : "+Inf";
  return `${value}`;
}

/**
 * Label strings by labels object. A series keeps the object it was first recorded with, and the
 * label sets handed to the metrics are never changed afterwards, so the object stands for its
 * content; a series that is removed takes its entry with it.
 */
const labelCache = new WeakMap<Labels, string>();

function cachedLabels(labels: Labels): string {
  let text = labelCache.get(labels);
  if (text === undefined) {
    text = formatLabels(labels);
    labelCache.set(labels, text);
  }
  return text;
}

/** The `{…}` part of a sample line (prom-client's order: own labels, then shared ones). */
function labelPart(sample: SampleValue): string {
  const own = sample.labels;
  const shared = sample.sharedLabels;
  if (shared === undefined) {
    const text = own === undefined ? "" : cachedLabels(own);
    return text ? `{${text}}` : "";
  }
  const head = own === undefined ? "" : formatLabels(own, shared);
  const tail = cachedLabels(shared);
  const text = head && tail ? `${head},${tail}` : head || tail;
  return text ? `{${text}}` : "";
}

function sampleLine(sample: SampleValue, base: string, counter: boolean): string {
  const name = counter ? `${sample.metricName ?? base}_total` : sample.metricName ?? base;
  // join() returns one flat string, where `+` or a template would return a rope that every
  // later join() of the cached line walks again (5× slower per render, measured).
  return [name, labelPart(sample), " ", valueString(sample.value)].join("");
}

/**
 * Sample lines (without exemplar) by sample object. A counter's or gauge's `get()` hands out
 * the series' own record, so between two scrapes most series — all the idle ones — come back as
 * the same object with the same value, and their line is reused as is.
 */
const lineCache = new WeakMap<SampleValue, { value: number; line: string }>();

/** One family's lines, each ending in a newline. */
function renderFamily(metric: MetricData, openMetrics: boolean): string {
  const counter = metric.type === "counter";
  // prom-client strips `_total` from a counter's name for OpenMetrics (and appends it to each
  // sample); the classic format names the family by its sample name.
  const base = escapeString(counter ? metric.name.replace(/_total$/, "") : metric.name);
  const family = counter && !openMetrics ? `${base}_total` : base;
  const values = metric.values ?? [];
  // Lines go into an array joined once: appending to one string would build a rope of every
  // line that lives until the end of the render, and each young-generation collection during the
  // render would copy all of it (pauses of 20–150 ms measured with 10,000 series).
  const lines = new Array<string>(values.length + 3);
  lines[0] = `# HELP ${family} ${escapeString(metric.help)}`;
  lines[1] = `# TYPE ${family} ${metric.type}`;
  for (let i = 0; i < values.length; i++) {
    const sample = values[i];
    const exemplar = sample.exemplar;
    if (exemplar && openMetrics) {
      lines[i + 2] = `${sampleLine(sample, base, counter)} # {${formatLabels(exemplar.labelSet)}} ${
        valueString(exemplar.value)
      } ${exemplar.timestamp}`;
      continue;
    }
    // A histogram's rows are new objects on every get(): nothing to reuse.
    if (sample.sharedLabels !== undefined) {
      lines[i + 2] = sampleLine(sample, base, counter);
      continue;
    }
    const cached = lineCache.get(sample);
    if (cached !== undefined && cached.value === sample.value) {
      lines[i + 2] = cached.line;
      continue;
    }
    const line = sampleLine(sample, base, counter);
    lineCache.set(sample, { value: sample.value, line });
    lines[i + 2] = line;
  }
  lines[values.length + 2] = "";
  return lines.join("\n");
}

/** Renders every metric of `registry` as OpenMetrics (with exemplars) or classic text. */
export async function renderRegistry(
  registry: client.Registry<client.OpenMetricsContentType>,
  openMetrics: boolean,
): Promise<string> {
  const metrics = registry.getMetricsAsArray() as unknown as Renderable[];
  // Collected together, as prom-client does: a slow collect (a budget store read) runs beside
  // the others instead of after them.
  const data = await Promise.all(
    metrics.map((m) => m.getForPromString ? m.getForPromString() : m.get()),
  );
  const families = data.map((metric) => renderFamily(metric, openMetrics));
  if (openMetrics) families.push("# EOF\n");
  return families.join("");
}

/** Renders the registry for a scraper's Accept header: [body, content type]. */
export async function renderMetrics(
  registry: client.Registry<client.OpenMetricsContentType>,
  accept: string | null | undefined,
): Promise<[string, string]> {
  const openMetrics = acceptsOpenMetrics(accept);
  return [
    await renderRegistry(registry, openMetrics),
    openMetrics ? OPENMETRICS_TEXT : PROMETHEUS_TEXT,
  ];
}
