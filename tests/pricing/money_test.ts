import assert from "node:assert/strict";
import fc from "fast-check";
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

Deno.test("picodollars convert to the number their exact decimal parses to, below 2^53 and above", () => {
  const safe = BigInt(Number.MAX_SAFE_INTEGER);
  const edges = [0n, 1n, 7n, 10n ** 12n, safe - 1n, safe, safe + 1n, 10n ** 17n + 3n, -safe, -1n];
  fc.assert(
    fc.property(
      fc.oneof(
        fc.bigInt({ min: 0n, max: 10n ** 10n }),
        fc.bigInt({ min: -(2n ** 60n), max: 2n ** 60n }),
        fc.constantFrom(...edges),
      ),
      (pico) => {
        assert.equal(picoToUsd(pico), Number(formatUsd(pico)));
      },
    ),
    { numRuns: 20_000 },
  );
});
