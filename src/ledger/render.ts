/**
 * The ledger's JSON. Money is written as a JSON number token carrying every decimal of the exact
 * picodollar amount (`0.0000069`, `123456.789012345678`): a double would round a month's total,
 * and a string would not be a number. Counts are bigint sums, written exactly too.
 */
import { LosslessNumber, stringify } from "lossless-json";
import { formatUsd } from "../pricing/money.ts";
import type { GroupKey } from "./query.ts";
import type { SpendReport, SpendTotals } from "./queries.ts";
import type { LedgerRow } from "./row.ts";

/** Picodollars as an exact JSON number of USD. */
export function usdNumber(pico: bigint): LosslessNumber {
  return new LosslessNumber(formatUsd(pico));
}

/** Serializes a value whose numbers may be bigint or {@link LosslessNumber}. */
export function toJson(value: unknown): string {
  return stringify(value) ?? "null";
}

function totalsObject(t: SpendTotals) {
  return {
    requests: t.requests,
    refused_requests: t.refusedRequests,
    unpriced_requests: t.unpricedRequests,
    input_tokens: t.inputTokens,
    cached_input_tokens: t.cachedInputTokens,
    cache_write_tokens: t.cacheWriteTokens,
    output_tokens: t.outputTokens,
    reasoning_tokens: t.reasoningTokens,
    cost_usd: usdNumber(t.costPico),
  };
}

/** The `/v1/spend` body of a report. */
export function reportObject(report: SpendReport) {
  return {
    currency: "USD",
    from: new Date(report.fromMs).toISOString(),
    to: new Date(report.toMs).toISOString(),
    group_by: report.groupBy,
    total: totalsObject(report.total),
    groups: report.groups.map((g) => {
      const keys: Partial<Record<GroupKey, string | null>> = {};
      for (const key of report.groupBy) keys[key] = g.keys[key] ?? null;
      return { ...keys, ...totalsObject(g.totals) };
    }),
  };
}

const usdOrNull = (pico: bigint | null | undefined) => pico == null ? null : usdNumber(pico);

/** One record as the API shows it: snake_case, time as RFC 3339, costs exact. */
export function recordObject(row: LedgerRow) {
  const k = row.kindCosts;
  return {
    request_id: row.requestId,
    time: new Date(row.ts).toISOString(),
    tenant: row.tenant,
    key_name: row.keyName,
    end_user: row.endUser,
    model: row.model,
    request_model: row.requestModel,
    provider: row.provider,
    route: row.route,
    operation: row.operation,
    status: row.status,
    error_type: row.errorType,
    input_tokens: row.inputTokens,
    cached_input_tokens: row.cachedInputTokens,
    cache_write_5m_tokens: row.cacheWrite5mTokens,
    cache_write_1h_tokens: row.cacheWrite1hTokens,
    output_tokens: row.outputTokens,
    reasoning_tokens: row.reasoningTokens,
    service_tier: row.serviceTier,
    price_tier: row.priceTier,
    cost_usd: usdOrNull(row.costPico),
    cost_breakdown_usd: k === null ? null : {
      input: usdNumber(k.input),
      cached_input: usdNumber(k.cached_input),
      cache_write_5m: usdNumber(k.cache_write_5m),
      cache_write_1h: usdNumber(k.cache_write_1h),
      output: usdNumber(k.output),
    },
    unpriced: row.unpriced,
    usage_source: row.usageSource,
    pricing_version: row.pricingVersion,
    trace_id: row.traceId,
  };
}
