/**
 * `deno task prices:check [new-file] [--accept]`: compares a proposed price file with the current
 * src/pricing/prices.json and refuses (exit 1, one line per problem) a rate moved more than
 * tenfold, a model or alias gone, or new prices under the old pricing_version, unless `--accept`.
 * Without a file it checks src/pricing/prices.json as edited against its last commit. The rules:
 * docs/pricing.md.
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { checkPriceChange } from "../src/pricing/compare.ts";
import { PricingError } from "../src/pricing/pricing.ts";

const USAGE = "usage: deno task prices:check [new-file] [--accept]";
const PRICES_PATH = "src/pricing/prices.json";

/** Where the check reads from and writes to; tests give their own. */
export interface CheckIo {
  readonly repoRoot: string;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

async function readJson(path: string, text?: string): Promise<unknown> {
  try {
    return JSON.parse(text ?? await Deno.readTextFile(path));
  } catch (error) {
    throw new PricingError(`${path}: ${(error as Error).message}`);
  }
}

/** The committed version of the price file, for a check without a new file. */
async function committedPrices(repoRoot: string): Promise<string> {
  const result = await new Deno.Command("git", {
    args: ["-C", repoRoot, "show", `HEAD:${PRICES_PATH}`],
    stdout: "piped",
    stderr: "piped",
  }).output().catch((error: Error) => {
    throw new PricingError(`cannot run git to read the committed ${PRICES_PATH}: ${error.message}`);
  });
  if (!result.success) {
    throw new PricingError(
      `no new file given, and git cannot show the committed ${PRICES_PATH}: ${
        new TextDecoder().decode(result.stderr).trim()
      }`,
    );
  }
  return new TextDecoder().decode(result.stdout);
}

/** Runs the check; returns the exit code (0 accepted, 1 refused, 2 usage). */
export async function runPricesCheck(args: string[], io: CheckIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { accept: { type: "boolean", default: false } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    io.err(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.positionals.length > 1) {
    io.err(USAGE);
    return 2;
  }
  const pricesPath = `${io.repoRoot}/${PRICES_PATH}`;
  const [newFile] = parsed.positionals;
  let check;
  let names;
  try {
    if (newFile === undefined) {
      names = { current: `${PRICES_PATH} (committed)`, next: `${PRICES_PATH} (edited)` };
      const committed = await readJson(names.current, await committedPrices(io.repoRoot));
      check = checkPriceChange(committed, await readJson(pricesPath), names);
    } else {
      names = { current: PRICES_PATH, next: newFile };
      check = checkPriceChange(await readJson(pricesPath), await readJson(newFile), names);
    }
  } catch (error) {
    if (!(error instanceof PricingError)) throw error;
    io.err(`prices:check: refused: ${error.message}`);
    return 1;
  }
  if (check.identical) {
    io.out(`prices:check: ${names.next} is the same as ${names.current}; nothing to check`);
    return 0;
  }
  if (check.problems.length === 0) {
    io.out(`prices:check: ok: ${names.next} may replace ${names.current}`);
    return 0;
  }
  const lines = check.problems.map((p) => `  - ${p.message}`);
  if (parsed.values.accept) {
    io.out(
      `prices:check: accepted with --accept, ${check.problems.length} problem(s):\n${
        lines.join("\n")
      }`,
    );
    return 0;
  }
  io.err(
    `prices:check: refused ${names.next}, ${check.problems.length} problem(s):\n${
      lines.join("\n")
    }\nFix them, or rerun with --accept if every change is intended.`,
  );
  return 1;
}

if (import.meta.main) {
  const repoRoot = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
  Deno.exit(
    await runPricesCheck(Deno.args, {
      repoRoot,
      out: (line) => console.log(line),
      err: (line) => console.error(line),
    }),
  );
}
