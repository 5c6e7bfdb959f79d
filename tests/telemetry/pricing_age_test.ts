/**
 * inference_pricing_effective_timestamp_seconds: the loaded price table's effective date, from
 * which InferencePricingStale (alerts/pricing.rules.yml) computes the table's age.
 */
import assert from "node:assert/strict";
import { withJsonFile } from "../helpers/files.ts";
import { testApp } from "../helpers/app.ts";
import { find } from "../helpers/prom.ts";

const METRIC = "inference_pricing_effective_timestamp_seconds";

Deno.test("the metric is the effective date of the table in use, 00:00 UTC in Unix seconds", async () => {
  const shipped = testApp();
  const [embedded] = find(await shipped.metrics(), METRIC);
  assert.equal(
    embedded.value,
    Date.parse(`${shipped.services.prices.effectiveDate}T00:00:00Z`) / 1000,
  );
  assert.deepEqual(embedded.labels, {});

  const prices = JSON.parse(
    await Deno.readTextFile(new URL("../../src/pricing/prices.json", import.meta.url)),
  );
  await withJsonFile({ ...prices, effective_date: "2026-03-01" }, async (path) => {
    const t = testApp({ PRICING_FILE: path });
    assert.deepEqual(find(await t.metrics(), METRIC).map((s) => s.value), [1_772_323_200]);
  });
});
