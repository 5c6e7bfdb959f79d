import assert from "node:assert/strict";
import {
  buildPriceTable,
  costOf,
  embeddedPriceTable,
  PricingError,
  worstCaseCostPico,
} from "../../src/pricing/pricing.ts";
import { formatUsd } from "../../src/pricing/money.ts";

const table = embeddedPriceTable();
const usage = (input: number, output: number, cached = 0, cacheWrite = 0) => ({
  inputTokens: input,
  cachedInputTokens: cached,
  cacheWriteTokens: cacheWrite,
  outputTokens: output,
});

Deno.test("the embedded table holds the reference tutorial's six models at its prices", () => {
  const expected: Record<string, [bigint, bigint]> = {
    "gpt-4o": [2_500_000n, 10_000_000n],
    "gpt-4o-mini": [150_000n, 600_000n],
    "claude-3.5-sonnet": [3_000_000n, 15_000_000n],
    "claude-3.5-haiku": [800_000n, 4_000_000n],
    "llama-3.1-70b": [350_000n, 400_000n],
    "mixtral-8x22b": [900_000n, 900_000n],
  };
  for (const [id, [input, output]] of Object.entries(expected)) {
    const price = table.resolve(id);
    assert.ok(price, id);
    assert.equal(price.inputMicros, input, id);
    assert.equal(price.outputMicros, output, id);
  }
});

Deno.test("dated aliases resolve to their canonical model", () => {
  assert.equal(table.resolve("claude-3-5-sonnet-20241022")?.id, "claude-3.5-sonnet");
  assert.equal(table.resolve("gpt-4o-mini-2024-07-18")?.id, "gpt-4o-mini");
  assert.equal(table.resolve("gpt-4-turbo"), undefined);
});

Deno.test("the reference example costs exactly 6.9e-06 USD (6 input, 10 output tokens)", () => {
  const cost = costOf(table.resolve("gpt-4o-mini")!, usage(6, 10));
  assert.equal(cost.totalPico, 6_900_000n);
  assert.equal(formatUsd(cost.totalPico), "0.0000069");
  // The float formula the tutorial uses does not give this value.
  assert.notEqual((6 / 1000) * 0.00015 + (10 / 1000) * 0.0006, 0.0000069);
});

Deno.test("cached and cache-write tokens are priced at their own rates and never twice", () => {
  const sonnet = table.resolve("claude-3.5-sonnet")!;
  // 1000 input tokens of which 600 cache reads and 100 cache writes; 50 output.
  const cost = costOf(sonnet, usage(1000, 50, 600, 100));
  assert.equal(cost.inputPico, 300n * 3_000_000n);
  assert.equal(cost.cachedInputPico, 600n * 300_000n);
  assert.equal(cost.cacheWritePico, 100n * 3_750_000n);
  assert.equal(cost.outputPico, 50n * 15_000_000n);
  assert.equal(
    cost.totalPico,
    cost.inputPico + cost.cachedInputPico + cost.cacheWritePico + cost.outputPico,
  );
});

Deno.test("a cheap cached token keeps its price where rounding to 1e-8 USD would lose it", () => {
  const mini = table.resolve("gpt-4o-mini")!;
  const cost = costOf(mini, usage(1, 0, 1));
  assert.equal(formatUsd(cost.totalPico), "0.000000075");
});

Deno.test("worst case reserves all input at the dearest input rate plus max output", () => {
  const sonnet = table.resolve("claude-3.5-sonnet")!;
  assert.equal(worstCaseCostPico(sonnet, 10, 20), 10n * 3_750_000n + 20n * 15_000_000n);
});

Deno.test("a bad price file names the field that is wrong", () => {
  const base = {
    pricing_version: "t",
    effective_date: "2026-01-01",
    currency: "USD",
    models: {
      m: { provider: "p", tokenizer: "cl100k_base", input: 1, output: 1, max_output_tokens: 10 },
    },
  };
  const cases: [unknown, RegExp][] = [
    [{ ...base, models: { m: { ...base.models.m, input: -1 } } }, /models\.m\.input/],
    [{ ...base, models: { m: { ...base.models.m, output: 0.1234567 } } }, /models\.m\.output/],
    [{ ...base, models: { m: { ...base.models.m, tokenizer: "x" } } }, /models\.m\.tokenizer/],
    [{ ...base, effective_date: "soon" }, /effective_date/],
    [{ ...base, models: {} }, /models/],
    [
      { ...base, models: { m: base.models.m, n: { ...base.models.m, aliases: ["m"] } } },
      /models\.n\.aliases/,
    ],
  ];
  for (const [raw, pattern] of cases) {
    assert.throws(() => buildPriceTable(raw), (e: Error) => {
      assert.ok(e instanceof PricingError);
      assert.match(e.message, pattern);
      return true;
    });
  }
});
