/**
 * Tokenizer benchmark (scenario 4 of `deno task bench`): counting speed of this project's o200k_base encoder
 * against the WASM `tiktoken` package, `gpt-tokenizer` and js-tiktoken on generated corpora, the
 * worst-case time curve, and the per-call cost on the short strings every request counts.
 *
 * Run: `deno run --allow-all scripts/bench/tokenizer.ts [--smoke]`. Contenders run back to back
 * in the same process, alternating, over several rounds; figures are medians with the min–max
 * spread. The machines are shared and noisy, so read ratios rather than absolute numbers. Smoke
 * mode runs tiny inputs once per contender and checks only that everything works.
 *
 * "ours" is `count()` on the shared encoder, whose piece cache is warm after the first round, as
 * it is in a long-running server; "ours, cold" builds a fresh encoder (empty cache, same
 * vocabulary) for every run: since every round counts the same megabyte, the warm column shows
 * the cache at its best, and the cold one what text seen for the first time costs. Worst-case
 * inputs are run at 1 KB, 10 KB, 100 KB and 1 MB; a contender is not run at a size where its
 * time, extrapolated from the previous sizes, would exceed WORST_CASE_BUDGET_SECONDS (js-tiktoken
 * and the WASM build are quadratic there: ten times the input takes a hundred times as long). In the throughput table a contender whose first
 * round took over SLOW_ROUND_SECONDS gets that one round only.
 */

import { get_encoding } from "tiktoken";
import { Tiktoken as JsTiktoken } from "js-tiktoken/lite";
import o200kRanks from "js-tiktoken/ranks/o200k_base";
import { countTokens as gptTokenizerCount } from "gpt-tokenizer";
import llama3Tokenizer from "llama3-tokenizer-js";
import { BytePairEncoder } from "../../src/tokens/bpe.ts";
import { encoderFor } from "../../src/tokens/encodings.ts";
import { compilePretokenizer } from "../../src/tokens/pretokenizer.ts";
import { cjk, code, emoji, prose, randomBytes } from "./corpora.ts";

/** One contender's figure for one input: median and spread over rounds. */
export interface Measurement {
  contender: string;
  /** Median over rounds. */
  value: number;
  min: number;
  max: number;
  /** Token count it produced (all contenders must agree). */
  tokens: number;
}

/** Throughput of every contender on one corpus, in MB (10⁶ UTF-8 bytes) per second. */
export interface ThroughputRow {
  corpus: string;
  bytes: number;
  mbPerSecond: Measurement[];
}

/** Seconds to count one worst-case input, per contender (null: skipped, too slow before). */
export interface WorstCaseRow {
  input: string;
  bytes: number;
  seconds: Record<string, number | null>;
}

/** Microseconds per `count` of one short string. */
export interface ShortStringRow {
  text: string;
  microseconds: Measurement[];
}

/** Everything one benchmark run measured, plus its markdown report. */
export interface TokenizerBenchResult {
  date: string;
  command: string;
  smoke: boolean;
  /** Milliseconds to build each encoder on first use (rank parsing and table building). */
  buildMs: Record<string, number>;
  throughput: ThroughputRow[];
  worstCase: WorstCaseRow[];
  shortStrings: ShortStringRow[];
  markdown: string;
}

type Counter = (text: string) => number;

const WORST_CASE_BUDGET_SECONDS = 5;
const SLOW_ROUND_SECONDS = 5;
const SHORT_STRINGS = [
  "Explain transformers in 3 sentences",
  "Response to: Explain transformers in 3 sentences...",
  "What is the capital of France?",
  "Summarize the attached quarterly report for the board, in five bullet points.",
];

/** Runs the tokenizer benchmark; `smoke` uses tiny inputs and one round. */
export async function runTokenizerBench(opts: { smoke: boolean }): Promise<TokenizerBenchResult> {
  const { smoke } = opts;
  const buildMs: Record<string, number> = {};
  for (const name of ["o200k_base", "cl100k_base", "llama3"] as const) {
    const start = performance.now();
    encoderFor(name);
    buildMs[name] = performance.now() - start;
  }

  const ours = encoderFor("o200k_base");
  // A fresh encoder (same vocabulary, empty piece cache) is built before each timed run, by
  // `coldStart`, so its construction is not part of the figure.
  let coldEncoder = ours;
  const coldStart = () => {
    coldEncoder = new BytePairEncoder(ours.vocabulary, compilePretokenizer(o200kRanks.pat_str));
  };
  const oursCold: Counter = (text) => coldEncoder.count(text);
  const wasm = get_encoding("o200k_base");
  const jsTiktoken = new JsTiktoken(o200kRanks);
  const contenders: Record<string, Counter> = {
    "ours": (text) => ours.count(text),
    "ours, cold": oursCold,
    "tiktoken (WASM)": (text) => wasm.encode_ordinary(text).length,
    "gpt-tokenizer": (text) => gptTokenizerCount(text),
    "js-tiktoken": (text) => jsTiktoken.encode(text, [], []).length,
  };
  const llama3Ours = encoderFor("llama3");
  const llama3Contenders: Record<string, Counter> = {
    "ours (llama3)": (text) => llama3Ours.count(text),
    "llama3-tokenizer-js": (text) =>
      llama3Tokenizer.encode(text, { bos: false, eos: false }).length,
  };

  const corpusBytes = smoke ? 10_000 : 1_000_000;
  const rounds = smoke ? 1 : 5;
  const corpora: Record<string, string> = {
    "English prose": bytePrefix(prose(corpusBytes), corpusBytes),
    "source code": bytePrefix(code(corpusBytes), corpusBytes),
    "CJK": bytePrefix(cjk(corpusBytes), corpusBytes),
    "emoji": bytePrefix(emoji(corpusBytes), corpusBytes),
  };
  const throughput: ThroughputRow[] = [];
  for (const [corpus, text] of Object.entries(corpora)) {
    const all = corpus === "English prose" ? { ...contenders, ...llama3Contenders } : contenders;
    throughput.push(
      await measureThroughput(corpus, text, all, rounds, { "ours, cold": coldStart }),
    );
  }

  const sizes = smoke ? [1_000, 3_000] : [1_000, 10_000, 100_000, 1_000_000];
  const budget = smoke ? 0.5 : WORST_CASE_BUDGET_SECONDS;
  const worstCase: WorstCaseRow[] = [];
  const worstContenders = { ...contenders, ...llama3Contenders };
  delete worstContenders["ours, cold"];
  for (const [input, make] of Object.entries(WORST_CASES)) {
    /** Each contender's times so far, as [size, seconds]. */
    const history = new Map<string, [number, number][]>();
    for (const size of sizes) {
      const text = make(size);
      const seconds: Record<string, number | null> = {};
      for (const [name, count] of Object.entries(worstContenders)) {
        const past = history.get(name) ?? [];
        if (predictSeconds(past, size) > budget) {
          seconds[name] = null;
          continue;
        }
        const start = performance.now();
        count(text);
        seconds[name] = (performance.now() - start) / 1000;
        history.set(name, [...past, [size, seconds[name]]]);
        await yieldToEventLoop();
      }
      worstCase.push({ input, bytes: utf8Length(text), seconds });
    }
  }

  const shortStrings: ShortStringRow[] = [];
  const iterations = smoke ? 200 : 50_000;
  for (const text of SHORT_STRINGS) {
    shortStrings.push(await measureShortString(text, contenders, iterations, rounds));
  }

  const result = {
    date: new Date().toISOString(),
    command: `deno run --allow-all scripts/bench/tokenizer.ts${smoke ? " --smoke" : ""}`,
    smoke,
    buildMs,
    throughput,
    worstCase,
    shortStrings,
  };
  return { ...result, markdown: renderMarkdown(result) };
}

const WORST_CASES: Record<string, (bytes: number) => string> = {
  "one repeated letter": (bytes) => "a".repeat(bytes),
  // Random bytes decoded as UTF-8 (invalid sequences become U+FFFD), as a server receives them.
  "random bytes": (bytes) => randomBytes(bytes, 31),
};

/**
 * Time a contender would take at `size`, extrapolated from its last two measurements with the
 * growth exponent they show (clamped to 1–2), or quadratically from a single one.
 */
function predictSeconds(past: [number, number][], size: number): number {
  if (past.length === 0) return 0;
  const [s2, t2] = past[past.length - 1];
  let exponent = 2;
  if (past.length >= 2) {
    const [s1, t1] = past[past.length - 2];
    exponent = Math.log(t2 / t1) / Math.log(s2 / s1);
    exponent = Math.min(2, Math.max(1, Number.isFinite(exponent) ? exponent : 2));
  }
  return t2 * (size / s2) ** exponent;
}

/** The longest prefix of `text` (whole code points) whose UTF-8 form fits in `bytes`. */
function bytePrefix(text: string, bytes: number): string {
  let used = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.codePointAt(i) ?? 0;
    const size = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (used + size > bytes) break;
    used += size;
    i += c >= 0x10000 ? 2 : 1;
  }
  return text.slice(0, i);
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** Lets timers and I/O run between long synchronous measurements. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function summarize(contender: string, values: number[], tokens: number): Measurement {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    contender,
    value: sorted[Math.floor(sorted.length / 2)],
    min: sorted[0],
    max: sorted[sorted.length - 1],
    tokens,
  };
}

async function measureThroughput(
  corpus: string,
  text: string,
  contenders: Record<string, Counter>,
  rounds: number,
  beforeRun: Record<string, () => void>,
): Promise<ThroughputRow> {
  const bytes = utf8Length(text);
  const samples = new Map<string, number[]>();
  const tokens = new Map<string, number>();
  const slow = new Set<string>();
  for (let round = 0; round < rounds; round++) {
    // Alternate the order each round so no contender always runs right after another's GC.
    const names = Object.keys(contenders).filter((name) => !slow.has(name));
    if (round % 2 === 1) names.reverse();
    for (const name of names) {
      beforeRun[name]?.();
      const start = performance.now();
      const n = contenders[name](text);
      const seconds = (performance.now() - start) / 1000;
      if (seconds > SLOW_ROUND_SECONDS) slow.add(name);
      tokens.set(name, n);
      samples.set(name, [...(samples.get(name) ?? []), bytes / 1e6 / seconds]);
      await yieldToEventLoop();
    }
  }
  return {
    corpus,
    bytes,
    mbPerSecond: [...samples].map(([name, v]) => summarize(name, v, tokens.get(name) ?? 0)),
  };
}

async function measureShortString(
  text: string,
  contenders: Record<string, Counter>,
  iterations: number,
  rounds: number,
): Promise<ShortStringRow> {
  const samples = new Map<string, number[]>();
  const tokens = new Map<string, number>();
  for (let round = 0; round < rounds; round++) {
    for (const [name, count] of Object.entries(contenders)) {
      if (name === "ours, cold") continue;
      let n = 0;
      const start = performance.now();
      for (let i = 0; i < iterations; i++) n = count(text);
      const micros = ((performance.now() - start) * 1000) / iterations;
      tokens.set(name, n);
      samples.set(name, [...(samples.get(name) ?? []), micros]);
    }
    await yieldToEventLoop();
  }
  return {
    text,
    microseconds: [...samples].map(([name, v]) => summarize(name, v, tokens.get(name) ?? 0)),
  };
}

function fixed(value: number, digits: number): string {
  return value.toFixed(digits);
}

function renderMarkdown(r: Omit<TokenizerBenchResult, "markdown">): string {
  const lines: string[] = [];
  lines.push(`### Tokenizer (o200k_base unless noted)`, "");
  lines.push(
    `\`${r.command}\` — ${r.date}${r.smoke ? " (smoke: sizes too small to mean anything)" : ""}`,
  );
  lines.push("");
  lines.push(
    `Encoder build on first use: ${
      Object.entries(r.buildMs).map(([k, v]) => `${k} ${fixed(v, 0)} ms`).join(", ")
    }.`,
    "",
  );

  const names = r.throughput.flatMap((row) => row.mbPerSecond.map((m) => m.contender))
    .filter((n, i, all) => all.indexOf(n) === i);
  lines.push("Throughput, MB/s (median of rounds, min–max):", "");
  lines.push(`| corpus | MB | ${names.join(" | ")} | ours ÷ WASM, warm / cold |`);
  lines.push(`|---|---:|${names.map(() => "---:").join("|")}|---:|`);
  for (const row of r.throughput) {
    const by = new Map(row.mbPerSecond.map((m) => [m.contender, m]));
    const cells = names.map((n) => {
      const m = by.get(n);
      return m ? `${fixed(m.value, 1)} (${fixed(m.min, 1)}–${fixed(m.max, 1)})` : "";
    });
    const wasm = by.get("tiktoken (WASM)")?.value ?? Infinity;
    const warm = (by.get("ours")?.value ?? 0) / wasm;
    const cold = (by.get("ours, cold")?.value ?? 0) / wasm;
    lines.push(
      `| ${row.corpus} | ${fixed(row.bytes / 1e6, 2)} | ${cells.join(" | ")} | ` +
        `${fixed(warm, 1)}× / ${fixed(cold, 1)}× |`,
    );
  }
  const disagreements = r.throughput.flatMap((row) =>
    row.mbPerSecond
      .filter((m) => !m.contender.includes("llama3") && m.tokens !== row.mbPerSecond[0].tokens)
      .map((m) =>
        `${row.corpus}: ${m.contender} counted ${m.tokens}, ours ${row.mbPerSecond[0].tokens}`
      )
  );
  lines.push(
    "",
    disagreements.length
      ? `Count disagreements: ${disagreements.join("; ")}`
      : "All o200k_base contenders agreed on every token count.",
  );

  const worstNames = Object.keys(r.worstCase[0]?.seconds ?? {});
  lines.push(
    "",
    "Worst cases, seconds for one count (— : not run, would take minutes by the previous size):",
    "",
  );
  lines.push(`| input | bytes | ${worstNames.join(" | ")} |`);
  lines.push(`|---|---:|${worstNames.map(() => "---:").join("|")}|`);
  for (const row of r.worstCase) {
    const cells = worstNames.map((n) => {
      const s = row.seconds[n];
      return s === null ? "—" : fixed(s, 3);
    });
    lines.push(`| ${row.input} | ${row.bytes.toLocaleString("en-US")} | ${cells.join(" | ")} |`);
  }

  const shortNames = r.shortStrings[0]?.microseconds.map((m) => m.contender) ?? [];
  lines.push("", "Short strings, µs per count (median of rounds):", "");
  lines.push(`| text | tokens | ${shortNames.join(" | ")} |`);
  lines.push(`|---|---:|${shortNames.map(() => "---:").join("|")}|`);
  for (const row of r.shortStrings) {
    const cells = row.microseconds.map((m) => fixed(m.value, 2));
    lines.push(
      `| ${JSON.stringify(row.text)} | ${row.microseconds[0].tokens} | ${cells.join(" | ")} |`,
    );
  }
  return lines.join("\n") + "\n";
}

if (import.meta.main) {
  const result = await runTokenizerBench({ smoke: Deno.args.includes("--smoke") });
  console.log(result.markdown);
}
