import assert from "node:assert/strict";
import { csvExport, focusExport, textStream } from "../../src/ledger/export.ts";
import { csvLine } from "../../src/ledger/csv.ts";
import { FOCUS_COLUMNS } from "../../src/ledger/focus.ts";
import { parseUsdPico } from "../../src/pricing/money.ts";
import type { LedgerRow } from "../../src/ledger/row.ts";
import { csvObjects, parseCsv } from "../helpers/csv.ts";
import { makeRow } from "./fixtures.ts";

const ACCOUNT = { billingAccountId: "acme-gateway", billingAccountName: "acme-gateway" };

async function* fromArray(rows: LedgerRow[]) {
  yield rows;
}

async function text(chunks: AsyncGenerator<string>): Promise<string> {
  return await new Response(await textStream(chunks)).text();
}

const pico = (usd: string) => {
  const value = parseUsdPico(usd);
  if (value === null) throw new Error(`not an exact USD amount: ${usd}`);
  return value;
};

Deno.test("csvLine: quotes commas, quotes and line breaks, and defuses spreadsheet formulas", () => {
  const line = csvLine([
    "a,b",
    'say "hi"',
    "two\nlines",
    "=HYPERLINK(1)",
    "-1+1",
    "@x",
    null,
    42,
    "",
  ]);
  assert.deepEqual(parseCsv(line), [[
    "a,b",
    'say "hi"',
    "two\nlines",
    "'=HYPERLINK(1)",
    "'-1+1",
    "'@x",
    "",
    "42",
    "",
  ]]);
});

Deno.test("CSV export: a header, then one line per request with exact costs; unpriced cost is empty", async () => {
  const priced = makeRow({ endUser: "bob, the builder", keyName: "ci" });
  const unpriced = makeRow({ unpriced: true, model: "unknown", requestModel: "my-model" });
  const refused = makeRow({
    status: "budget_exceeded",
    errorType: "budget_exceeded",
    inputTokens: 0,
    cachedInputTokens: 0,
    cacheWrite5mTokens: 0,
    outputTokens: 0,
  });
  const records = csvObjects(await text(csvExport(fromArray([priced, unpriced, refused]))));
  assert.equal(records.length, 3);
  assert.deepEqual(
    {
      id: records[0].request_id,
      user: records[0].end_user,
      cost: pico(records[0].cost_usd),
      output: pico(records[0].output_cost_usd),
      time: records[0].time,
    },
    {
      id: priced.requestId,
      user: "bob, the builder",
      cost: priced.costPico,
      output: priced.kindCosts!.output,
      time: "2026-11-25T14:30:00.000Z",
    },
  );
  assert.equal(records[1].cost_usd, "");
  assert.equal(records[1].unpriced, "true");
  assert.equal(records[1].request_model, "my-model");
  assert.equal(records[2].status, "budget_exceeded");
  assert.equal(records[2].cost_usd, "0");
});

Deno.test("CSV export: an empty range is a header only", async () => {
  const rows = parseCsv(await text(csvExport(fromArray([]))));
  assert.equal(rows.length, 1);
  assert.equal(rows[0][0], "request_id");
});

Deno.test("FOCUS export: the FOCUS 1.2 columns the spec makes mandatory for usage, and the asked ones", async () => {
  const header = parseCsv(await text(focusExport(fromArray([]), ACCOUNT)))[0];
  assert.deepEqual(header, [...FOCUS_COLUMNS]);
  const columns: readonly string[] = FOCUS_COLUMNS;
  for (
    const required of [
      "BilledCost",
      "BillingAccountId",
      "BillingAccountName",
      "BillingCurrency",
      "BillingPeriodEnd",
      "BillingPeriodStart",
      "ChargeCategory",
      "ChargeClass",
      "ChargeDescription",
      "ChargePeriodEnd",
      "ChargePeriodStart",
      "ConsumedQuantity",
      "ConsumedUnit",
      "ContractedCost",
      "EffectiveCost",
      "InvoiceIssuerName",
      "ListCost",
      "ListUnitPrice",
      "PricingQuantity",
      "PricingUnit",
      "ProviderName",
      "PublisherName",
      "ResourceId",
      "ServiceCategory",
      "ServiceName",
      "SkuId",
      "SubAccountId",
    ]
  ) {
    assert.ok(columns.includes(required), required);
  }
  for (const custom of columns.filter((c) => /^[a-z]/.test(c))) assert.match(custom, /^x_/);
});

Deno.test("FOCUS export: one row per priced token kind; costs add up to the request and unit prices are exact", async () => {
  const row = makeRow({
    inputTokens: 1000,
    cachedInputTokens: 200,
    cacheWrite5mTokens: 100,
    cacheWrite1hTokens: 50,
    outputTokens: 300,
    tenant: "team-a",
    pricingVersion: "2026.11.1",
    keyName: "ci",
    endUser: "ann",
    serviceTier: "flex",
    priceTier: "long_context",
  });
  const unpriced = makeRow({ unpriced: true });
  const records = csvObjects(await text(focusExport(fromArray([row, unpriced]), ACCOUNT)));
  assert.deepEqual(records.map((r) => [r.x_TokenKind, r.ConsumedQuantity]), [
    ["input", "650"],
    ["cached_input", "200"],
    ["cache_write_5m", "100"],
    ["cache_write_1h", "50"],
    ["output", "300"],
  ]);
  assert.equal(records.reduce((sum, r) => sum + pico(r.BilledCost), 0n), row.costPico);
  for (const r of records) {
    // PricingQuantity counts millions of tokens; ListUnitPrice × PricingQuantity = ListCost exactly
    // (amounts as picodollars: pico(a) × pico(b) / 10^12 = pico(a × b)).
    assert.equal(pico(r.PricingQuantity), BigInt(r.ConsumedQuantity) * 1_000_000n);
    const product = pico(r.ListUnitPrice) * pico(r.PricingQuantity);
    assert.equal(product % 1_000_000_000_000n, 0n);
    assert.equal(product / 1_000_000_000_000n, pico(r.ListCost));
    assert.equal(r.PricingUnit, "1000000 Tokens");
    assert.equal(r.BilledCost, r.EffectiveCost);
    assert.equal(r.SubAccountId, "team-a");
    assert.equal(r.ResourceId, "gpt-4o-mini");
    assert.equal(r.SkuId, `gpt-4o-mini/${r.x_TokenKind}`);
    assert.equal(r.BillingCurrency, "USD");
    assert.equal(r.ChargeCategory, "Usage");
    assert.equal(r.ChargeClass, "");
    assert.equal(r.ChargePeriodStart, "2026-11-25T14:30:00Z");
    assert.equal(r.ChargePeriodEnd, "2026-11-25T14:30:01Z");
    assert.equal(r.BillingPeriodStart, "2026-11-01T00:00:00Z");
    assert.equal(r.BillingPeriodEnd, "2026-12-01T00:00:00Z");
    assert.equal(r.BillingAccountId, "acme-gateway");
    assert.equal(r.x_RequestId, row.requestId);
    assert.deepEqual(
      [r.ProviderName, r.PublisherName, r.ResourceName, r.ResourceType, r.ServiceName],
      ["simulated", "simulated", "gpt-4o-mini", "Model", "Model inference"],
    );
    assert.deepEqual(
      [r.ServiceCategory, r.ServiceSubcategory, r.ChargeFrequency, r.PricingCategory],
      ["AI and Machine Learning", "Generative AI", "Usage-Based", "Standard"],
    );
    assert.deepEqual([r.InvoiceIssuerName, r.SubAccountName, r.SubAccountType], [
      "acme-gateway",
      "team-a",
      "Tenant",
    ]);
    assert.deepEqual(JSON.parse(r.Tags), {
      route: "/v1/chat/completions",
      key_name: "ci",
      end_user: "ann",
    });
    assert.deepEqual([r.x_Status, r.x_UsageSource, r.x_PricingVersion, r.x_ServiceTier], [
      "ok",
      "provider",
      "2026.11.1",
      "flex",
    ]);
    assert.equal(r.SkuPriceId, `gpt-4o-mini/${r.x_TokenKind}@2026.11.1/long_context`);
    assert.equal(r.ContractedUnitPrice, r.ListUnitPrice);
    assert.match(
      r.ChargeDescription,
      new RegExp(`^${r.ConsumedQuantity} .* tokens of gpt-4o-mini$`),
    );
  }
  assert.equal(records.find((r) => r.x_TokenKind === "input")?.ListUnitPrice, "0.15");
  assert.equal(records.find((r) => r.x_TokenKind === "input")?.PricingQuantity, "0.00065");
});
