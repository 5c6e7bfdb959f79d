/**
 * The published test vectors (src/pricing/test-vectors.json) run against the one cost function:
 * each vector's cost, USD string and price tier, its hand derivation summed independently, the
 * rates it was derived from equal to the shipped table's, and every rule and threshold covered.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import {
  buildPriceTable,
  type Cost,
  costOf,
  embeddedPriceTable,
  type TokenUsage,
} from "../../src/pricing/pricing.ts";
import { formatUsd, parseRateMicros } from "../../src/pricing/money.ts";

const PARTS = ["input", "cached_input", "cache_write_5m", "cache_write_1h", "output"] as const;

const vectorSchema = z.object({
  name: z.string().min(1),
  rule: z.string().min(1),
  model: z.string().min(1),
  usage: z.object({
    input_tokens: z.number().int().nonnegative(),
    cached_input_tokens: z.number().int().nonnegative(),
    cache_write_tokens: z.number().int().nonnegative(),
    cache_write_1h_tokens: z.number().int().nonnegative().optional(),
    output_tokens: z.number().int().nonnegative(),
    reasoning_tokens: z.number().int().nonnegative().optional(),
    service_tier: z.string().optional(),
  }).strict(),
  expected: z.object({
    price_tier: z.string().nullable(),
    cost_pico: z.string().regex(/^\d+$/).nullable(),
    cost_usd: z.string().regex(/^\d+(\.\d*[1-9])?$/).nullable(),
  }).strict(),
  derivation: z.array(
    z.object({
      part: z.enum(PARTS),
      tokens: z.number().int().nonnegative(),
      usd_per_1m: z.string(),
    }).strict(),
  ),
}).strict();

const fileSchema = z.object({
  description: z.string(),
  conventions: z.record(z.string(), z.string()),
  prices: z.unknown(),
  vectors: z.array(vectorSchema).min(1),
}).strict();

const file = fileSchema.parse(
  JSON.parse(
    await Deno.readTextFile(new URL("../../src/pricing/test-vectors.json", import.meta.url)),
  ),
);
const table = buildPriceTable(file.prices, "test-vectors.json prices");
const shipped = embeddedPriceTable();
type Vector = z.infer<typeof vectorSchema>;

function usageOf(vector: Vector): TokenUsage {
  const u = vector.usage;
  return {
    inputTokens: u.input_tokens,
    cachedInputTokens: u.cached_input_tokens,
    cacheWriteTokens: u.cache_write_tokens,
    cacheWrite1hTokens: u.cache_write_1h_tokens,
    outputTokens: u.output_tokens,
    reasoningTokens: u.reasoning_tokens,
    serviceTier: u.service_tier,
  };
}

/** Picodollars of the derivation's terms of `parts`: tokens × micro-USD per 1M, summed by hand. */
function derived(vector: Vector, parts: readonly string[] = PARTS): bigint {
  return vector.derivation.filter((term) => parts.includes(term.part)).reduce((sum, term) => {
    const rate = parseRateMicros(term.usd_per_1m);
    assert.ok(rate !== null, `${vector.name}: rate ${term.usd_per_1m}`);
    return sum + BigInt(term.tokens) * rate;
  }, 0n);
}

for (const vector of file.vectors) {
  Deno.test(`test vector: ${vector.name}`, () => {
    const price = table.resolve(vector.model);
    if (vector.expected.cost_pico === null) {
      assert.equal(price, undefined, "a vector without a cost names an unpriced model");
      assert.equal(shipped.resolve(vector.model), undefined, "unpriced in the shipped table too");
      assert.equal(vector.expected.cost_usd, null);
      assert.equal(vector.expected.price_tier, null);
      return;
    }
    assert.ok(price, `${vector.model} is in the vectors' prices`);
    const cost = costOf(price, usageOf(vector));
    const expected = BigInt(vector.expected.cost_pico);
    assert.equal(cost.totalPico, expected);
    assert.equal(formatUsd(cost.totalPico), vector.expected.cost_usd);
    assert.equal(cost.priceTier, vector.expected.price_tier);
    // The hand derivation adds up to the published cost, and part by part to costOf's parts.
    assert.equal(derived(vector), expected, "the derivation sums to the expected cost");
    const parts: Array<[keyof Cost, string[]]> = [
      ["inputPico", ["input"]],
      ["cachedInputPico", ["cached_input"]],
      ["cacheWritePico", ["cache_write_5m", "cache_write_1h"]],
      ["cacheWrite1hPico", ["cache_write_1h"]],
      ["outputPico", ["output"]],
    ];
    for (const [key, names] of parts) assert.equal(cost[key], derived(vector, names), key);
  });
}

Deno.test("the vectors' rates are the shipped price table's, model by model", () => {
  assert.ok(table.models.size >= 5);
  for (const [id, price] of table.models) {
    assert.deepEqual(shipped.models.get(id), price, `${id} differs from src/pricing/prices.json`);
  }
});

Deno.test("the vectors cover every rule, and each long-context threshold at -1, 0 and +1 token", () => {
  const rules = new Set(file.vectors.map((v) => v.rule));
  for (
    const rule of [
      "standard",
      "cached_input",
      "cache_write",
      "cache_write_duration",
      "reasoning",
      "service_tier",
      "long_context",
      "embeddings",
      "unpriced",
    ]
  ) {
    assert.ok(rules.has(rule), `no vector for rule ${rule}`);
  }
  const tiersSeen = new Set(file.vectors.map((v) => v.expected.price_tier));
  for (const tier of ["standard", "long_context", "flex", "priority", null]) {
    assert.ok(tiersSeen.has(tier), `no vector billed at ${tier}`);
  }
  for (const price of table.models.values()) {
    const threshold = price.longContext?.thresholdInputTokens;
    if (threshold === undefined) continue;
    const prompts = file.vectors.filter((v) => table.resolve(v.model)?.id === price.id)
      .map((v) => v.usage.input_tokens);
    for (const prompt of [threshold - 1, threshold, threshold + 1]) {
      assert.ok(prompts.includes(prompt), `${price.id}: no vector at ${prompt} prompt tokens`);
    }
  }
  const withCacheAtThreshold = file.vectors.filter((v) =>
    v.rule === "long_context" && v.usage.cached_input_tokens > 0 &&
    v.usage.cache_write_tokens > 0
  );
  assert.ok(withCacheAtThreshold.length >= 3, "threshold ±1 with cache reads and writes");
  console.log(`${file.vectors.length} test vectors`);
});
