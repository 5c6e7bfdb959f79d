/**
 * The servers the end-to-end tests start price with the shipped table dated the day they run
 * (tests/helpers/prices.ts), so InferencePricingStale cannot fire in them as the calendar moves.
 */
import assert from "node:assert/strict";
import { startServer } from "../helpers/server.ts";
import { find, parseExposition } from "../helpers/prom.ts";
import { todaysPriceFile } from "../helpers/prices.ts";
import { embeddedPriceTable, loadPriceTable } from "../../src/pricing/pricing.ts";

Deno.test("an e2e server's price table is dated the day the test runs", async () => {
  const server = await startServer();
  try {
    const m = parseExposition(await (await fetch(`${server.url}/metrics`)).text());
    const [effective] = find(m, "inference_pricing_effective_timestamp_seconds");
    const today = new Date().toISOString().slice(0, 10);
    assert.equal(effective.value, Date.parse(`${today}T00:00:00Z`) / 1000);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

Deno.test("the dated copy keeps the shipped table's version and rates, and is removed after use", async () => {
  let path: string;
  {
    await using prices = await todaysPriceFile();
    path = prices.path;
    const copy = loadPriceTable(prices.path);
    const shipped = embeddedPriceTable();
    assert.equal(copy.effectiveDate, new Date().toISOString().slice(0, 10));
    assert.equal(copy.version, shipped.version);
    assert.deepEqual(copy.models, shipped.models);
  }
  await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
});
