/**
 * The usage record: one per request, built once. Its cost is computed once, and every sink (the
 * metrics, the span, the response body, the budget) reads the same numbers, so they cannot
 * disagree.
 */
import type { ModelPrice, TokenUsage } from "../pricing/pricing.ts";
import type { Tenant } from "../tenants/tenants.ts";
import type { RequestStatus, UpstreamErrorKind } from "../telemetry/names.ts";

/** Where token counts came from: the provider's report, or our own count. */
export type UsageSource = "provider" | "estimated";

/** Everything recorded about one request. */
export interface UsageRecord {
  readonly requestId: string;
  /** `gen_ai.operation.name`: `text_completion` for /v1/inference, `chat` for the chat APIs. */
  readonly operation: "text_completion" | "chat";
  readonly provider: string;
  /** The model name as the client sent it. */
  readonly requestModel: string;
  readonly responseModel?: string;
  /** The priced model, or undefined for an unpriced or unknown one. */
  readonly price?: ModelPrice;
  /** The `model` label: a priced id, or `unknown`. */
  readonly modelLabel: string;
  readonly tenant: Tenant;
  readonly maxTokens?: number;
  readonly usage: TokenUsage;
  readonly usageSource: UsageSource;
  /** How local counts were made: `exact` tokenizer, or an `estimated` approximation. */
  readonly tokenCountMethod: "exact" | "estimated";
  /** Exact cost in picodollars; null when the model has no price. */
  readonly costPico: bigint | null;
  /** The same cost in USD as a number (exact decimal); null when unpriced. */
  readonly costUsd: number | null;
  readonly durationSeconds: number;
  readonly timeToFirstTokenSeconds?: number;
  readonly status: RequestStatus;
  /** The error type for a failed request, from the README's error table. */
  readonly errorType?: string;
  /** How the upstream provider failed, when it did (`inference_upstream_errors_total{kind}`). */
  readonly upstreamErrorKind?: UpstreamErrorKind;
}

/** A zero usage, for requests that were refused before any token was processed. */
export const NO_USAGE: TokenUsage = {
  inputTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 0,
};
