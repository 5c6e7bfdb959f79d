/**
 * Scenario 4, tokenization: scripts/bench/tokenizer.ts (`runTokenizerBench`) run in its own
 * process pinned to the server CPU, its Markdown report included as is, and its headline figures
 * lifted out: MB/s on English prose against the WASM `tiktoken`, and the time for 1 MB of one
 * repeated letter.
 */
import type { Scenario } from "../lib/context.ts";
import { ratio } from "../lib/context.ts";
import { pinned } from "../lib/processes.ts";
import type { TokenizerBenchResult } from "../tokenizer.ts";

/** Scenario 4. */
export const tokenization: Scenario = {
  id: "tokenization",
  title: "4. Tokenization: MB/s and the worst-case curve",
  async run(ctx) {
    const [command, args] = pinned(ctx.cpus.server, Deno.execPath(), [
      "run",
      "--allow-all",
      `${ctx.root}/scripts/bench/scenarios/tokenization.ts`,
      ...(ctx.smoke ? ["--smoke"] : []),
    ]);
    const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
      .output();
    if (!out.success) {
      throw new Error(`tokenizer benchmark failed:\n${new TextDecoder().decode(out.stderr)}`);
    }
    const result = JSON.parse(new TextDecoder().decode(out.stdout)) as TokenizerBenchResult;
    const prose = result.throughput.find((r) => r.corpus === "English prose");
    const mb = (name: string) => prose?.mbPerSecond.find((m) => m.contender === name)?.value;
    const ours = mb("ours");
    const wasm = mb("tiktoken (WASM)");
    const letter = result.worstCase.filter((r) => r.input === "one repeated letter")
      .sort((a, b) => b.bytes - a.bytes)[0];
    const headline: Record<string, string> = {};
    if (ours !== undefined) headline["prose, ours (warm)"] = `${ours.toFixed(1)} MB/s`;
    if (ours !== undefined && wasm !== undefined) {
      headline["prose, ours ÷ tiktoken (WASM)"] = ratio(ours / wasm);
    }
    const letterSeconds = letter?.seconds["ours"];
    if (letter && letterSeconds != null) {
      headline[`${letter.bytes.toLocaleString("en-US")} bytes of one repeated letter, ours`] = `${
        letterSeconds.toFixed(3)
      } s`;
    }
    return {
      tables: [],
      headline,
      notes: [
        `Report of scripts/bench/tokenizer.ts (${result.command}), run pinned to the server CPU, ` +
        "follows.",
      ],
      appendix: result.markdown,
      raw: { ...result, markdown: undefined },
    };
  },
};

if (import.meta.main) {
  const { runTokenizerBench } = await import("../tokenizer.ts");
  const result = await runTokenizerBench({ smoke: Deno.args.includes("--smoke") });
  console.log(JSON.stringify(result));
}
