/**
 * One ledger row per finished inference request: billed, unpriced (flagged, cost unknown) or
 * refused by a budget or rate limit (cost 0). Built from the same usage record the metrics and the
 * span read, so the ledger cannot disagree with them. Never holds prompt or reply text.
 */
import { type Cost, costOf } from "../pricing/pricing.ts";
import type { RequestStatus } from "../telemetry/names.ts";
import { traceIdOf } from "../telemetry/tracing.ts";
import { reachedModel, type UsageRecord, type UsageSource } from "../usage/record.ts";

/** Statuses of requests refused before any model ran: counted as `refused_requests`. */
export const REFUSED_STATUSES: readonly RequestStatus[] = ["budget_exceeded", "rate_limited"];

/** Token kinds priced separately, each with its own cost column and FOCUS SKU. */
export const TOKEN_KINDS = [
  "input",
  "cached_input",
  "cache_write_5m",
  "cache_write_1h",
  "output",
] as const;
/** One of {@link TOKEN_KINDS}. */
export type TokenKind = typeof TOKEN_KINDS[number];

/** Picodollars per token kind; null for an unpriced request. */
export type KindCosts = Readonly<Record<TokenKind, bigint>>;

/** One request as the ledger keeps it. */
export interface LedgerRow {
  /** The `x-request-id` the response carried: the primary key, so a replay is idempotent. */
  readonly requestId: string;
  /** When the request finished, epoch milliseconds (UTC). */
  readonly ts: number;
  /** The tenant as billed: a configured id, or `other` for an unknown demo-mode id. */
  readonly tenant: string;
  /** The API key's name (never the key); null in demo mode. */
  readonly keyName: string | null;
  /** The end user the client named (OpenAI `user`, Anthropic `metadata.user_id`), if any. */
  readonly endUser: string | null;
  /** The model as priced (the metrics' `model` label: a priced id or `unknown`). */
  readonly model: string;
  /** The model name as the client sent it. */
  readonly requestModel: string;
  readonly provider: string;
  /** The HTTP route, e.g. `/v1/chat/completions`. */
  readonly route: string;
  /** `gen_ai.operation.name`. */
  readonly operation: string;
  readonly status: string;
  readonly errorType: string | null;
  /** Every input token: uncached, cache reads and cache writes. */
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly cacheWrite5mTokens: number;
  readonly cacheWrite1hTokens: number;
  /** Every output token, reasoning included. */
  readonly outputTokens: number;
  /** The part of the output the provider reported as reasoning (billed once, as output). */
  readonly reasoningTokens: number;
  readonly serviceTier: string | null;
  readonly priceTier: string | null;
  /** Exact cost in picodollars; null when the model has no price (see `unpriced`). */
  readonly costPico: bigint | null;
  /** The cost split by token kind (summing to `costPico`); null when unpriced. */
  readonly kindCosts: KindCosts | null;
  /** True when the request was served for a model with no price: its cost is unknown. */
  readonly unpriced: boolean;
  readonly usageSource: UsageSource;
  readonly pricingVersion: string;
  readonly traceId: string | null;
}

/** What a row needs beyond the usage record: facts the HTTP layer and the clock know. */
export interface LedgerExtras {
  /** When the request finished, epoch milliseconds. */
  readonly finishedAtMs: number;
  /** The HTTP route, e.g. `/v1/chat/completions`. */
  readonly route: string;
  /** The price table's `pricing_version`. */
  readonly pricingVersion: string;
  /** The API key's name (never the key); absent in demo mode. */
  readonly keyName?: string;
  /** The end user the client named (OpenAI `user`/`safety_identifier`, Anthropic `metadata.user_id`). */
  readonly endUser?: string;
}

/**
 * True for the requests that get a ledger row: every request that reached a model (whatever
 * became of it) and the budget and rate-limit refusals. Malformed, unauthorized or unknown-model
 * requests never reached a model or a budget, so there is nothing to bill.
 */
export function belongsInLedger(record: Pick<UsageRecord, "status">): boolean {
  return reachedModel(record) || isRefused(record.status);
}

/** True when a status is a refusal (budget or rate limit): no model ran, nothing was billed. */
export function isRefused(status: string): boolean {
  return (REFUSED_STATUSES as readonly string[]).includes(status);
}

/** Longest stored client-supplied string (end user, requested model): bounds the row's size. */
export const MAX_TEXT_CHARS = 256;

const clip = (text: string | undefined): string | null =>
  text === undefined || text === "" ? null : text.slice(0, MAX_TEXT_CHARS);

/** A cost split by token kind, as the ledger stores it; all zero for no cost (a refusal). */
export function kindCostsOf(cost: Cost | undefined): KindCosts {
  return {
    input: cost?.inputPico ?? 0n,
    cached_input: cost?.cachedInputPico ?? 0n,
    cache_write_5m: (cost?.cacheWritePico ?? 0n) - (cost?.cacheWrite1hPico ?? 0n),
    cache_write_1h: cost?.cacheWrite1hPico ?? 0n,
    output: cost?.outputPico ?? 0n,
  };
}

/**
 * The ledger row of a finished request. The cost split comes from the one cost function applied
 * to the same price and usage that produced `record.costPico`, so the kinds add up to it.
 */
export function ledgerRowOf(record: UsageRecord, extras: LedgerExtras): LedgerRow {
  const refused = isRefused(record.status);
  const unpriced = record.price === undefined && !refused;
  const cost = record.price && !refused ? costOf(record.price, record.usage) : undefined;
  const kindCosts: KindCosts | null = unpriced ? null : kindCostsOf(cost);
  const { usage } = record;
  const writes1h = usage.cacheWrite1hTokens ?? 0;
  return {
    requestId: record.requestId,
    ts: extras.finishedAtMs,
    tenant: record.tenant.id,
    keyName: extras.keyName ?? null,
    endUser: clip(extras.endUser),
    model: record.modelLabel,
    requestModel: clip(record.requestModel) ?? "",
    provider: record.provider,
    route: extras.route,
    operation: record.operation,
    status: record.status,
    errorType: record.errorType ?? null,
    inputTokens: usage.inputTokens,
    cachedInputTokens: usage.cachedInputTokens,
    // Without a duration breakdown every cache write is a 5-minute write.
    cacheWrite5mTokens: Math.max(0, usage.cacheWriteTokens - writes1h),
    cacheWrite1hTokens: writes1h,
    outputTokens: usage.outputTokens,
    reasoningTokens: usage.reasoningTokens ?? 0,
    serviceTier: usage.serviceTier ?? null,
    priceTier: record.priceTier,
    costPico: kindCosts === null ? null : sumKinds(kindCosts),
    kindCosts,
    unpriced,
    usageSource: record.usageSource,
    pricingVersion: extras.pricingVersion,
    traceId: traceIdOf(record.span) ?? null,
  };
}

/** The total of a cost split. */
export function sumKinds(costs: KindCosts): bigint {
  let total = 0n;
  for (const kind of TOKEN_KINDS) total += costs[kind];
  return total;
}

/** Tokens of one kind in a row, as priced: uncached input excludes cache reads and writes. */
export function tokensOfKind(row: LedgerRow, kind: TokenKind): number {
  switch (kind) {
    case "input":
      return Math.max(
        0,
        row.inputTokens - row.cachedInputTokens - row.cacheWrite5mTokens - row.cacheWrite1hTokens,
      );
    case "cached_input":
      return row.cachedInputTokens;
    case "cache_write_5m":
      return row.cacheWrite5mTokens;
    case "cache_write_1h":
      return row.cacheWrite1hTokens;
    case "output":
      return row.outputTokens;
  }
}

const INT64_MAX = (1n << 63n) - 1n;

/** Why a row cannot be stored; the message names the field. */
export class LedgerRowError extends Error {
  override name = "LedgerRowError";
}

/** Checks a row's invariants before it is queued, so one bad row cannot fail a whole batch. */
export function validateRow(row: LedgerRow): void {
  const fail = (field: string, why: string) => {
    throw new LedgerRowError(`ledger row ${JSON.stringify(row.requestId)}: ${field} ${why}`);
  };
  if (row.requestId === "" || row.requestId.length > 200) fail("requestId", "must be 1-200 chars");
  if (!Number.isSafeInteger(row.ts) || row.ts < 0) fail("ts", "must be epoch milliseconds");
  for (
    const field of [
      "inputTokens",
      "cachedInputTokens",
      "cacheWrite5mTokens",
      "cacheWrite1hTokens",
      "outputTokens",
      "reasoningTokens",
    ] as const
  ) {
    if (!Number.isSafeInteger(row[field]) || row[field] < 0) fail(field, "must be an integer ≥ 0");
  }
  if (
    row.unpriced !== (row.costPico === null) || (row.costPico === null) !== (row.kindCosts === null)
  ) {
    fail("costPico", "must be null exactly when the row is unpriced");
  }
  if (row.kindCosts !== null) {
    for (const kind of TOKEN_KINDS) {
      const part = row.kindCosts[kind];
      if (part < 0n || part > INT64_MAX) fail(`kindCosts.${kind}`, "out of range");
    }
    if (sumKinds(row.kindCosts) !== row.costPico) fail("costPico", "must equal the sum of kinds");
    if (row.costPico! > INT64_MAX) fail("costPico", "out of range");
  }
}
