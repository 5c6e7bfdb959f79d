import assert from "node:assert/strict";
import {
  buildPriceTable,
  costOf,
  embeddedPriceTable,
  PricingError,
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

const RATES = { input: 1, output: 2 };
const LONG = { threshold_input_tokens: 100, input: 2, output: 4 };

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
    [{ ...base, effective_date: "2026-02-30" }, /effective_date: must be a date that exists/],
    [
      { ...base, models: { m: { ...base.models.m, service_tiers: { default: RATES } } } },
      /models\.m\.service_tiers\.default/,
    ],
    [
      {
        ...base,
        models: {
          m: { ...base.models.m, long_context: LONG, service_tiers: { flex: RATES } },
        },
      },
      /models\.m\.service_tiers\.flex\.long_context: is required/,
    ],
    [
      { ...base, models: { m: { ...base.models.m, long_context: { ...LONG, x: 1 } } } },
      /models\.m\.long_context/,
    ],
    [
      {
        ...base,
        models: { m: { ...base.models.m, long_context: { ...LONG, threshold_input_tokens: 0 } } },
      },
      /models\.m\.long_context\.threshold_input_tokens/,
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

Deno.test("missing cache rates bill at the set's input rate, a missing 1-hour write at the 5-minute one", () => {
  const t = buildPriceTable({
    pricing_version: "t",
    effective_date: "2026-01-01",
    currency: "USD",
    models: {
      plain: { provider: "p", tokenizer: "cl100k_base", input: 1, output: 2, max_output_tokens: 1 },
      cached: {
        provider: "p",
        tokenizer: "cl100k_base",
        input: 1,
        cache_write: 1.25,
        output: 2,
        max_output_tokens: 1,
        long_context: { threshold_input_tokens: 10, input: 3, output: 4 },
      },
    },
  });
  const plain = t.resolve("plain")!;
  assert.equal(plain.cachedInputMicros, 1_000_000n);
  assert.equal(plain.cacheWriteMicros, 1_000_000n);
  assert.equal(plain.cacheWrite1hMicros, 1_000_000n);
  const cached = t.resolve("cached")!;
  assert.equal(cached.cacheWrite1hMicros, 1_250_000n);
  assert.equal(cached.longContext?.cachedInputMicros, 3_000_000n);
  assert.equal(cached.longContext?.cacheWrite1hMicros, 3_000_000n);
  assert.equal(cached.serviceTiers.size, 0);
});

Deno.test("an embeddings model prices input only and may write no output", () => {
  const small = table.resolve("text-embedding-3-small")!;
  assert.equal(small.inputMicros, 20_000n);
  assert.equal(small.outputMicros, 0n);
  assert.equal(small.maxOutputTokens, 0);
  assert.equal(small.tokenizer, "cl100k_base");
  assert.equal(table.resolve("text-embedding-3-large")?.inputMicros, 130_000n);
});

Deno.test("the table's effective date is its start in UTC, as Unix seconds", () => {
  assert.equal(
    table.effectiveTimestampSeconds,
    Date.parse(`${table.effectiveDate}T00:00:00Z`) / 1000,
  );
  const t = buildPriceTable({
    pricing_version: "t",
    effective_date: "2026-03-01",
    currency: "USD",
    models: {
      m: { provider: "p", tokenizer: "cl100k_base", input: 1, output: 1, max_output_tokens: 1 },
    },
  });
  assert.equal(t.effectiveTimestampSeconds, 1_772_323_200);
});

Deno.test("a service tier with its own long-context rates bills as tier+long_context above the threshold", () => {
  const t = buildPriceTable({
    pricing_version: "t",
    effective_date: "2026-01-01",
    currency: "USD",
    models: {
      m: {
        provider: "p",
        tokenizer: "cl100k_base",
        input: 1,
        output: 2,
        max_output_tokens: 10,
        long_context: { threshold_input_tokens: 100, input: 2, output: 4 },
        service_tiers: {
          flex: {
            input: 0.5,
            output: 1,
            long_context: { threshold_input_tokens: 50, input: 3, output: 5 },
          },
        },
      },
    },
  });
  const m = t.resolve("m")!;
  const at = (input: number, serviceTier?: string) =>
    costOf(m, { ...usage(input, 1), serviceTier });
  assert.deepEqual([at(50, "flex").priceTier, at(50, "flex").totalPico], [
    "flex",
    50n * 500_000n + 1_000_000n,
  ]);
  assert.deepEqual([at(51, "flex").priceTier, at(51, "flex").totalPico], [
    "flex+long_context",
    51n * 3_000_000n + 5_000_000n,
  ]);
  // The flex tier's own threshold applies, not the model's.
  assert.equal(at(51).priceTier, "standard");
  assert.equal(at(101).priceTier, "long_context");
});

Deno.test("1-hour writes reported beyond the write total are billed as reported, never dropped", () => {
  const haiku = table.resolve("claude-haiku-4.5")!;
  const cost = costOf(haiku, { ...usage(100, 0, 0, 10), cacheWrite1hTokens: 30 });
  assert.equal(cost.cacheWrite1hPico, 30n * 2_000_000n);
  assert.equal(cost.cacheWritePico, cost.cacheWrite1hPico);
  assert.equal(cost.inputPico, 70n * 1_000_000n);
});
