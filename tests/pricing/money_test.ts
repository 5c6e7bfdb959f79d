import assert from "node:assert/strict";
import { formatUsd, parseRateMicros, parseUsdPico, picoToUsd } from "../../src/pricing/money.ts";

Deno.test("rates parse exactly into micro-dollars per 1M tokens", () => {
  assert.equal(parseRateMicros(2.5), 2_500_000n);
  assert.equal(parseRateMicros(0.075), 75_000n);
  assert.equal(parseRateMicros("0.000001"), 1n);
  assert.equal(parseRateMicros(0), 0n);
});

Deno.test("rates with more than six decimals, negative or non-numeric are refused", () => {
  for (const bad of [0.0000001, -1, "1.2345678", "abc", "", NaN, Infinity, "1e3"]) {
    assert.equal(parseRateMicros(bad as number | string), null, String(bad));
  }
});

Deno.test("USD amounts parse into picodollars", () => {
  assert.equal(parseUsdPico(10), 10_000_000_000_000n);
  assert.equal(parseUsdPico("0.000000000001"), 1n);
  assert.equal(parseUsdPico("0.0000000000001"), null);
});

Deno.test("picodollars format as an exact decimal without exponent", () => {
  assert.equal(formatUsd(6_900_000n), "0.0000069");
  assert.equal(formatUsd(0n), "0");
  assert.equal(formatUsd(1n), "0.000000000001");
  assert.equal(formatUsd(12_345_000_000_000_000n), "12345");
  assert.equal(picoToUsd(6_900_000n), 0.0000069);
});
