import assert from "node:assert/strict";
import { barState, countText, usdText } from "../../src/live/view.ts";

const usd = (n: number) => BigInt(Math.round(n * 1e6)) * 1_000_000n;

Deno.test("amounts from a dollar up show cents; smaller ones four significant digits", () => {
  assert.equal(usdText(0n), "$0");
  assert.equal(usdText(6_900_000n), "$0.0000069");
  assert.equal(usdText(6_912_345n), "$0.000006912");
  assert.equal(usdText(150_000n), "$0.00000015");
  assert.equal(usdText(123_456_789_012n), "$0.1235");
  assert.equal(usdText(999_960_000_000n), "$1");
  assert.equal(usdText(1_234_567_890_000_000n), "$1,234.57");
  assert.equal(usdText(1_000_000_000_000n), "$1.00");
});

Deno.test("counts get thousands separators", () => {
  assert.equal(countText(1234567), "1,234,567");
  assert.equal(countText(12), "12");
});

Deno.test("a bar is amber at the alert threshold or 80 % of the budget and red at the budget or at a budget refusal near it", () => {
  assert.equal(barState(usd(9.99), usd(10), null), "ok");
  assert.equal(barState(usd(10), usd(10), null), "warn");
  assert.equal(barState(usd(7.99), null, usd(10)), "ok");
  assert.equal(barState(usd(8), null, usd(10)), "warn");
  assert.equal(barState(usd(10), null, usd(10)), "over");
  assert.equal(barState(usd(11), usd(5), usd(10)), "over");
  assert.equal(barState(usd(1000), null, null), "ok");
  // Reservations stop accepted spend short of the budget: near it, a refusal says it is reached;
  // far below it, a refusal was one oversized request.
  assert.equal(barState(usd(8), null, usd(10), 1), "over");
  assert.equal(barState(usd(7.99), null, usd(10), 1), "ok");
  assert.equal(barState(usd(6), usd(5), usd(10), 2), "warn");
  assert.equal(barState(usd(1), usd(5), null, 3), "ok");
});
