/**
 * worstCaseCostPico, what budgets reserve before a request runs: a true upper bound on what costOf
 * can bill for any usage within the prompt and output bounds, across 1-hour cache writes, service
 * tiers and long-context rates, and no dearer than the rates that can really apply.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  costOf,
  embeddedPriceTable,
  type TokenUsage,
  worstCaseCostPico,
} from "../../src/pricing/pricing.ts";

const table = embeddedPriceTable();
const sonnet45 = table.resolve("claude-sonnet-4.5")!;
const gpt5 = table.resolve("gpt-5")!;

Deno.test("a 1-hour cache write is the dearest input an Anthropic model can bill", () => {
  const sonnet = table.resolve("claude-3.5-sonnet")!;
  assert.equal(worstCaseCostPico(sonnet, 10, 20), 10n * 6_000_000n + 20n * 15_000_000n);
  assert.equal(
    worstCaseCostPico(table.resolve("gpt-4o-mini")!, 10, 20),
    10n * 150_000n + 20n * 600_000n,
  );
});

Deno.test("long-context rates count only once the prompt bound is above the threshold", () => {
  assert.equal(
    worstCaseCostPico(sonnet45, 200_000, 1_000),
    200_000n * 6_000_000n + 1_000n * 15_000_000n,
  );
  assert.equal(
    worstCaseCostPico(sonnet45, 200_001, 1_000),
    200_001n * 12_000_000n + 1_000n * 22_500_000n,
  );
});

Deno.test("without a named service tier the dearest tier is reserved; a named one bounds it", () => {
  const priority = 1_000n * 2_500_000n + 100n * 20_000_000n;
  const standard = 1_000n * 1_250_000n + 100n * 10_000_000n;
  assert.equal(worstCaseCostPico(gpt5, 1_000, 100), priority);
  assert.equal(worstCaseCostPico(gpt5, 1_000, 100, "auto"), priority);
  assert.equal(worstCaseCostPico(gpt5, 1_000, 100, "priority"), priority);
  assert.equal(worstCaseCostPico(gpt5, 1_000, 100, "default"), standard);
  // A flex request may still be served, and billed, at the standard rates.
  assert.equal(worstCaseCostPico(gpt5, 1_000, 100, "flex"), standard);
});

const tierNames = fc.constantFrom(undefined, "default", "flex", "priority", "scale");

Deno.test("costOf never exceeds worstCaseCostPico within the bounds, for any model, usage and tier", () => {
  const models = [...table.models.values()];
  fc.assert(
    fc.property(
      fc.constantFrom(...models),
      fc.integer({ min: 0, max: 400_000 }),
      fc.integer({ min: 0, max: 130_000 }),
      fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.nat(), fc.nat()),
      tierNames,
      tierNames,
      fc.boolean(),
      (price, promptBound, outputBound, [a, b, c, d, e], requested, served, asAsked) => {
        // A usage inside the bounds: prompt ≤ promptBound split into reads and writes.
        const input = a % (promptBound + 1);
        const cached = b % (input + 1);
        const writes = c % (input - cached + 1);
        const usage: TokenUsage = {
          inputTokens: input,
          cachedInputTokens: cached,
          cacheWriteTokens: writes,
          cacheWrite1hTokens: d % (writes + 1),
          outputTokens: e % (outputBound + 1),
          // Asked for a tier, a provider serves that tier or the model's own rates; asked for
          // none (or one the table does not price), any tier.
          serviceTier: requested === undefined || requested === "scale"
            ? served
            : asAsked
            ? requested
            : "default",
        };
        const worst = worstCaseCostPico(price, promptBound, outputBound, requested);
        assert.ok(
          costOf(price, usage).totalPico <= worst,
          `${price.id} ${JSON.stringify(usage)} over ${worst} (asked ${requested})`,
        );
      },
    ),
    { numRuns: 5_000 },
  );
});
