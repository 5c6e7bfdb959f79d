import assert from "node:assert/strict";
import { INVALID_SPAN_CONTEXT, trace } from "@opentelemetry/api";
import { costOf, embeddedPriceTable } from "../../src/pricing/pricing.ts";
import { belongsInLedger, ledgerRowOf, MAX_TEXT_CHARS, validateRow } from "../../src/ledger/row.ts";
import { NO_USAGE, type UsageRecord } from "../../src/usage/record.ts";
import { REQUEST_STATUSES } from "../../src/telemetry/names.ts";
import { makeRow } from "./fixtures.ts";

const prices = embeddedPriceTable();
const sonnet = prices.resolve("claude-3.5-sonnet")!;
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const tracedSpan = trace.wrapSpanContext({
  traceId: TRACE_ID,
  spanId: "00f067aa0ba902b7",
  traceFlags: 1,
});
const tenant = { id: "team-a", hourlyAlertThresholdUsd: 1, budgetsPico: {} };
const extras = {
  finishedAtMs: Date.UTC(2026, 10, 25, 14, 0, 0, 123),
  route: "/v1/messages",
  pricingVersion: prices.version,
};

function record(overrides: Partial<UsageRecord> = {}): UsageRecord {
  const usage = {
    inputTokens: 10_000,
    cachedInputTokens: 4_000,
    cacheWriteTokens: 1_000,
    outputTokens: 500,
  };
  const cost = costOf(sonnet, usage);
  return {
    requestId: "req-1",
    operation: "chat",
    route: "/v1/messages",
    finishedAt: new Date(extras.finishedAtMs),
    provider: "anthropic",
    requestModel: "claude-3-5-sonnet-latest",
    price: sonnet,
    modelLabel: sonnet.id,
    tenant,
    usage,
    usageSource: "provider",
    tokenCountMethod: "exact",
    costPico: cost.totalPico,
    costUsd: Number(cost.totalPico) / 1e12,
    priceTier: cost.priceTier,
    durationSeconds: 1.5,
    status: "ok",
    span: tracedSpan,
    ...overrides,
  };
}

Deno.test("ledgerRowOf: a billed request's row carries the record's tokens and exact cost, split by kind", () => {
  const r = record();
  const row = ledgerRowOf(r, { ...extras, keyName: "ci", endUser: "user-42" });
  assert.deepEqual(row, {
    requestId: "req-1",
    ts: extras.finishedAtMs,
    tenant: "team-a",
    keyName: "ci",
    endUser: "user-42",
    model: "claude-3.5-sonnet",
    requestModel: "claude-3-5-sonnet-latest",
    provider: "anthropic",
    route: "/v1/messages",
    operation: "chat",
    status: "ok",
    errorType: null,
    inputTokens: 10_000,
    cachedInputTokens: 4_000,
    cacheWrite5mTokens: 1_000,
    cacheWrite1hTokens: 0,
    outputTokens: 500,
    reasoningTokens: 0,
    serviceTier: null,
    priceTier: "standard",
    // 5,000 uncached × $3, 4,000 cache reads × $0.30, 1,000 writes × $3.75, 500 out × $15 per 1M
    costPico: 15_000_000_000n + 1_200_000_000n + 3_750_000_000n + 7_500_000_000n,
    kindCosts: {
      input: 15_000_000_000n,
      cached_input: 1_200_000_000n,
      cache_write_5m: 3_750_000_000n,
      cache_write_1h: 0n,
      output: 7_500_000_000n,
    },
    unpriced: false,
    usageSource: "provider",
    pricingVersion: prices.version,
    traceId: TRACE_ID,
  });
  assert.equal(row.costPico, r.costPico);
  validateRow(row);
});

Deno.test("ledgerRowOf: 1-hour cache writes, reasoning, and a long-context tier are kept apart and priced", () => {
  const model = prices.resolve("claude-sonnet-4.5")!;
  // Above 200,000 prompt tokens the whole request bills at the long-context rates.
  const usage = {
    inputTokens: 250_000,
    cachedInputTokens: 40_000,
    cacheWriteTokens: 10_000,
    cacheWrite1hTokens: 4_000,
    outputTokens: 2_000,
    reasoningTokens: 500,
  };
  const cost = costOf(model, usage);
  const row = ledgerRowOf(
    record({
      price: model,
      modelLabel: model.id,
      usage,
      costPico: cost.totalPico,
      priceTier: cost.priceTier,
    }),
    extras,
  );
  assert.deepEqual(
    [row.cacheWrite5mTokens, row.cacheWrite1hTokens, row.reasoningTokens, row.priceTier],
    [6_000, 4_000, 500, "long_context"],
  );
  // $6 uncached, $0.60 cache reads, $7.50 5-minute and $12 1-hour writes, $22.50 out per 1M.
  assert.deepEqual(row.kindCosts, {
    input: 200_000n * 6_000_000n,
    cached_input: 40_000n * 600_000n,
    cache_write_5m: 6_000n * 7_500_000n,
    cache_write_1h: 4_000n * 12_000_000n,
    output: 2_000n * 22_500_000n,
  });
  assert.equal(row.costPico, cost.totalPico);
  validateRow(row);
});

Deno.test("ledgerRowOf: the service tier the provider reported, and the rates it billed", () => {
  const gpt5 = prices.resolve("gpt-5")!;
  const usage = {
    inputTokens: 1_000,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: 100,
    serviceTier: "flex",
  };
  const cost = costOf(gpt5, usage);
  const row = ledgerRowOf(
    record({
      price: gpt5,
      modelLabel: gpt5.id,
      usage,
      costPico: cost.totalPico,
      priceTier: cost.priceTier,
    }),
    extras,
  );
  assert.deepEqual([row.serviceTier, row.priceTier], ["flex", "flex"]);
  assert.equal(row.costPico, 1_000n * 625_000n + 100n * 5_000_000n);
});

Deno.test("ledgerRowOf: an untraced request has no trace id rather than the all-zero one", () => {
  const row = ledgerRowOf(record({ span: trace.wrapSpanContext(INVALID_SPAN_CONTEXT) }), extras);
  assert.equal(row.traceId, null);
});

Deno.test("ledgerRowOf: a request for an unpriced model is flagged, its cost null, not zero", () => {
  const row = ledgerRowOf(
    record({
      price: undefined,
      modelLabel: "unknown",
      costPico: null,
      costUsd: null,
      priceTier: null,
    }),
    extras,
  );
  assert.equal(row.unpriced, true);
  assert.equal(row.costPico, null);
  assert.equal(row.kindCosts, null);
  assert.equal(row.model, "unknown");
  assert.equal(row.requestModel, "claude-3-5-sonnet-latest");
  validateRow(row);
});

Deno.test("ledgerRowOf: a budget refusal costs 0 with its status and no tokens", () => {
  const row = ledgerRowOf(
    record({
      usage: NO_USAGE,
      costPico: null,
      costUsd: null,
      priceTier: null,
      status: "budget_exceeded",
      errorType: "budget_exceeded",
    }),
    extras,
  );
  assert.equal(row.unpriced, false);
  assert.equal(row.costPico, 0n);
  assert.equal(row.status, "budget_exceeded");
  assert.equal(row.errorType, "budget_exceeded");
  assert.equal(row.priceTier, null);
  assert.equal(row.inputTokens + row.outputTokens, 0);
  validateRow(row);
});

Deno.test("ledgerRowOf: client-supplied text is clipped; an empty end user is absent", () => {
  const long = "x".repeat(MAX_TEXT_CHARS + 50);
  const row = ledgerRowOf(record({ requestModel: long }), { ...extras, endUser: long });
  assert.equal(row.requestModel.length, MAX_TEXT_CHARS);
  assert.equal(row.endUser?.length, MAX_TEXT_CHARS);
  assert.equal(ledgerRowOf(record(), { ...extras, endUser: "" }).endUser, null);
});

Deno.test("belongsInLedger: admitted requests and budget/rate refusals get rows, malformed ones do not", () => {
  const ledgered = REQUEST_STATUSES.filter((status) => belongsInLedger({ status }));
  assert.deepEqual(ledgered, [
    "ok",
    "budget_exceeded",
    "rate_limited",
    "upstream_error",
    "client_closed",
    "timeout",
  ]);
});

Deno.test("validateRow: a cost that does not equal its kinds, or a null cost on a priced row, is refused", () => {
  const row = makeRow();
  assert.throws(() => validateRow({ ...row, costPico: row.costPico! + 1n }), /sum of kinds/);
  assert.throws(() => validateRow({ ...row, costPico: null }), /unpriced/);
  assert.throws(() => validateRow({ ...row, ts: 1.5 }), /ts/);
  assert.throws(() => validateRow({ ...row, requestId: "" }), /requestId/);
  assert.throws(
    () =>
      validateRow({
        ...row,
        kindCosts: { ...row.kindCosts!, output: 1n << 63n },
        costPico: row.costPico! - row.kindCosts!.output + (1n << 63n),
      }),
    /out of range/,
  );
});
