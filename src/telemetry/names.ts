/**
 * Metric, label and span attribute names: product API, spelled once here. The `inference_*`
 * names, labels and buckets are the reference tutorial's; `gen_ai.*` follow OpenTelemetry's GenAI
 * semantic conventions. Renaming one needs a migration note in the README.
 */

/** Prometheus metric names. */
export const METRIC = {
  costUsdTotal: "inference_cost_usd_total",
  inputTokensTotal: "inference_input_tokens_total",
  outputTokensTotal: "inference_output_tokens_total",
  cachedInputTokensTotal: "inference_cached_input_tokens_total",
  requestDurationSeconds: "inference_request_duration_seconds",
  costPerRequestUsd: "inference_cost_per_request_usd",
  timeToFirstTokenSeconds: "inference_time_to_first_token_seconds",
  costAlertThresholdUsd: "inference_cost_alert_threshold_usd",
  requestsTotal: "inference_requests_total",
  unpricedRequestsTotal: "inference_unpriced_requests_total",
  pricingInfo: "inference_pricing_info",
  pricingEffectiveTimestampSeconds: "inference_pricing_effective_timestamp_seconds",
  budgetLimitUsd: "inference_budget_limit_usd",
  budgetSpentUsd: "inference_budget_spent_usd",
  upstreamErrorsTotal: "inference_upstream_errors_total",
  inFlightRequests: "inference_in_flight_requests",
} as const;

/** The reference tutorial's latency buckets, in seconds. */
export const DURATION_BUCKETS = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/** The reference tutorial's cost-per-request buckets, in USD. */
export const COST_BUCKETS = [0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0];
/** Time-to-first-token buckets for streamed requests: 10 ms to 30 s. */
export const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The closed set of request outcomes, the `status` label of `inference_requests_total`.
 * See the README's error table for the HTTP status and error type of each.
 */
export const REQUEST_STATUSES = [
  "ok",
  "bad_request",
  "unknown_model",
  "unauthorized",
  "budget_exceeded",
  "rate_limited",
  "overloaded",
  "upstream_error",
  "client_closed",
  "timeout",
] as const;
/** One of {@link REQUEST_STATUSES}. */
export type RequestStatus = typeof REQUEST_STATUSES[number];

/** The closed set of `kind` values of `inference_upstream_errors_total`. */
export const UPSTREAM_ERROR_KINDS = [
  "connect",
  "timeout",
  "status_4xx",
  "status_5xx",
  "protocol",
  "mid_stream",
] as const;
/** One of {@link UPSTREAM_ERROR_KINDS}. */
export type UpstreamErrorKind = typeof UPSTREAM_ERROR_KINDS[number];

/** The `model` label value for anything that is not a priced model id. */
export const UNKNOWN_MODEL_LABEL = "unknown";

/** The span every inference request records, named as in the reference tutorial. */
export const SPAN_NAME = "inference_request";

/** Span attribute names. */
export const ATTR = {
  operationName: "gen_ai.operation.name",
  providerName: "gen_ai.provider.name",
  requestModel: "gen_ai.request.model",
  responseModel: "gen_ai.response.model",
  requestMaxTokens: "gen_ai.request.max_tokens",
  usageInputTokens: "gen_ai.usage.input_tokens",
  usageOutputTokens: "gen_ai.usage.output_tokens",
  usageCachedInputTokens: "gen_ai.usage.cache_read.input_tokens",
  // Renamed from gen_ai.usage.cache_creation.input_tokens as the conventions did.
  usageCacheWriteTokens: "gen_ai.usage.cache_write.input_tokens",
  usageCacheWrite1hTokens: "inference.usage.cache_write_1h.input_tokens",
  usageReasoningTokens: "gen_ai.usage.reasoning.output_tokens",
  // The proposed GenAI cost attributes, beside the tutorial's inference.cost_usd.
  costAmount: "gen_ai.usage.cost.amount",
  costCurrency: "gen_ai.usage.cost.currency",
  costSource: "gen_ai.usage.cost.source",
  costUsd: "inference.cost_usd",
  priceTier: "inference.price_tier",
  serviceTier: "openai.response.service_tier",
  tenant: "inference.tenant",
  pricingVersion: "inference.pricing_version",
  tokenCountMethod: "inference.token_count_method",
  usageSource: "inference.usage_source",
  status: "inference.status",
  errorType: "error.type",
  prompt: "gen_ai.prompt",
  completion: "gen_ai.completion",
  serverAddress: "server.address",
  serverPort: "server.port",
  httpResponseStatusCode: "http.response.status_code",
} as const;
