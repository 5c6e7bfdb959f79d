/**
 * The usage record: one per request, built once. Its cost is computed once, and every sink (the
 * metrics, the span, the log line, the response body, the budget) reads the same numbers, so they
 * cannot disagree.
 */
import type { Span } from "@opentelemetry/api";
import type { ModelPrice, PriceTier, TokenUsage } from "../pricing/pricing.ts";
import type { Tenant } from "../tenants/tenants.ts";
import type { RequestStatus, UpstreamErrorKind } from "../telemetry/names.ts";

/** What kind of request a record is: `gen_ai.operation.name`. */
export type Operation = "text_completion" | "chat" | "embeddings";

/** Where token counts came from: the provider's report, or our own count. */
export type UsageSource = "provider" | "estimated";

/** The conversation's text, kept only when TRACE_CONTENT=true; the span sink alone writes it. */
export interface UsageContent {
  /** The prompt: /v1/inference's `prompt`, or a chat request's messages as JSON. */
  readonly prompt?: string;
  /** The text generated, as far as it got. */
  readonly completion?: string;
}

/** Everything recorded about one request. */
export interface UsageRecord {
  readonly requestId: string;
  /**
   * `gen_ai.operation.name`: `text_completion` for /v1/inference, `chat` for the chat APIs
   * (Responses too), `embeddings` for /v1/embeddings.
   */
  readonly operation: Operation;
  /** The HTTP route that served it, e.g. `/v1/chat/completions`. */
  readonly route: string;
  /** When the request finished: the time every sink that keeps one (ledger, live page) uses. */
  readonly finishedAt: Date;
  readonly provider: string;
  /** The model name as the client sent it. */
  readonly requestModel: string;
  readonly responseModel?: string;
  /** The priced model, or undefined for an unpriced or unknown one. */
  readonly price?: ModelPrice;
  /** The `model` label: a priced id, or `unknown`. */
  readonly modelLabel: string;
  readonly tenant: Tenant;
  /** The name of the API key that authenticated it (never the key); absent in demo mode. */
  readonly keyName?: string;
  /**
   * The end user the client named: OpenAI's `safety_identifier` or `user`, Anthropic's
   * `metadata.user_id`; absent when none.
   */
  readonly endUser?: string;
  readonly maxTokens?: number;
  /**
   * The tokens: input with its cache reads and writes (1-hour ones in `cacheWrite1hTokens`),
   * output with its `reasoningTokens`, and the `serviceTier` the provider reported.
   */
  readonly usage: TokenUsage;
  readonly usageSource: UsageSource;
  /** How local counts were made: `exact` tokenizer, or an `estimated` approximation. */
  readonly tokenCountMethod: "exact" | "estimated";
  /** Exact cost in picodollars; null when the model has no price. */
  readonly costPico: bigint | null;
  /** The same cost in USD as a number (exact decimal); null when unpriced. */
  readonly costUsd: number | null;
  /** The rates that billed it (`standard`, `long_context`, `flex`, …); null when unpriced. */
  readonly priceTier: PriceTier | null;
  readonly durationSeconds: number;
  readonly timeToFirstTokenSeconds?: number;
  readonly status: RequestStatus;
  /** The error type for a failed request, from the documented error table. */
  readonly errorType?: string;
  /** How the upstream provider failed, when it did (`inference_upstream_errors_total{kind}`). */
  readonly upstreamErrorKind?: UpstreamErrorKind;
  /**
   * The request's span (its trace id is the exemplar and the log line's `trace_id`). The span
   * sink writes this record onto it and ends it; other sinks only read its context.
   */
  readonly span: Span;
  /** Prompt and reply text, present only when TRACE_CONTENT=true. Never stored or logged. */
  readonly content?: UsageContent;
}

/** A zero usage, for requests that were refused before any token was processed. */
export const NO_USAGE: TokenUsage = {
  inputTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 0,
};

/** A usage counted here: no cache parts. */
export function localUsage(inputTokens: number, outputTokens: number): TokenUsage {
  return { inputTokens, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens };
}

/**
 * True when the request reached a model and so may have consumed tokens: it succeeded, or it
 * failed during or after generation. Requests refused before the model never move the totals.
 */
export function reachedModel(record: Pick<UsageRecord, "status">): boolean {
  return record.status === "ok" || record.status === "client_closed" ||
    record.status === "upstream_error" || record.status === "timeout";
}
