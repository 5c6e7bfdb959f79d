/**
 * One chat turn of the gateway after admission: what it carries, and how it ends when it cannot
 * answer: the client gone (499, prompt billed) or the upstream failed before any byte (a JSON
 * error in the route's shape, the upstream error kind recorded); and the headers of a turn that
 * finished.
 */
import { ApiError, type ErrorType } from "../http/errors.ts";
import type { Services } from "../services.ts";
import type { InferenceCall } from "../usage/call.ts";
import type { UsageRecord } from "../usage/record.ts";
import type { TokenCounter } from "../tokens/count.ts";
import type { TokenUsage } from "../pricing/pricing.ts";
import { formatUsd } from "../pricing/money.ts";
import type { UpstreamErrorKind } from "../telemetry/names.ts";
import type { Provider } from "../providers/providers.ts";
import { ClientGone, redactKey, UpstreamError, type UpstreamProtocol } from "./upstream.ts";
import type { ChatApi, ChatRequest } from "./contract.ts";
import { type Admitted, billClientLeft, budgetHeaders } from "./admission.ts";

/** Everything one chat turn carries, from admission to its one usage record. */
export interface Turn {
  readonly services: Services;
  readonly api: ChatApi;
  readonly call: InferenceCall;
  readonly request: ChatRequest;
  readonly counter: TokenCounter;
  readonly promptTokens: number;
  readonly maxOutput: number;
  readonly clientSignal: AbortSignal;
  readonly clientHeaders: Headers;
}

/** The upstream side of a turn as the relay sees it: a real exchange or the simulated model. */
export interface Leg {
  failure(error: unknown, fallback: UpstreamErrorKind): Error;
  end(failure?: UpstreamErrorKind | "client_closed", usage?: TokenUsage, model?: string): void;
  abort(): void;
}

/** The client left before anything was sent: the prompt was processed, so it is billed. */
export function clientClosed(turn: Turn): Promise<Response> {
  return billClientLeft(turn.call, { counter: turn.counter, inputTokens: turn.promptTokens });
}

/** Response headers of a finished, non-streamed call: remaining budget and the exact cost. */
export function finishedHeaders(call: InferenceCall, record: UsageRecord): Record<string, string> {
  const headers = budgetHeaders(call);
  if (record.costPico !== null) headers["x-inference-cost-usd"] = formatUsd(record.costPico);
  return headers;
}

/** A failure before anything reached the client: a JSON error in the API's shape, or 499. */
export function upstreamFailed(
  turn: Turn,
  leg: Leg,
  provider: Provider | undefined,
  error: unknown,
): Promise<Response> {
  const admitted = { counter: turn.counter, inputTokens: turn.promptTokens };
  return callFailedUpstream(turn.call, admitted, turn.api.upstream, leg, provider, error);
}

/**
 * A failure before anything reached the client, for any admitted call: the client gone (499,
 * the prompt billed), or the upstream's failure recorded and thrown as the client-facing error.
 */
export async function callFailedUpstream(
  call: InferenceCall,
  admitted: Admitted,
  protocol: Pick<UpstreamProtocol, "errorFields">,
  leg: Leg,
  provider: Provider | undefined,
  error: unknown,
): Promise<Response> {
  const failure = leg.failure(error, "protocol");
  if (failure instanceof ClientGone) {
    leg.end("client_closed");
    return await billClientLeft(call, admitted);
  }
  if (!(failure instanceof UpstreamError)) throw failure;
  leg.end(failure.kind);
  call.upstreamErrorKind = failure.kind;
  throw upstreamApiError(failure, protocol, provider);
}

/**
 * The client-facing error for an upstream failure: a timeout, a 502, or a 4xx passed through with
 * the provider's status and error fields.
 */
export function upstreamApiError(
  failure: UpstreamError,
  protocol: Pick<UpstreamProtocol, "errorFields">,
  provider: Provider | undefined,
): ApiError {
  const details = provider ? { provider: provider.name } : {};
  if (failure.kind === "timeout") return new ApiError("upstream_timeout", failure.message, details);
  if (failure.kind !== "status_4xx" || !provider || failure.status === undefined) {
    return new ApiError("upstream_error", failure.message, details);
  }
  // A 4xx is passed through with its status and the provider's error type, code and message,
  // so the client's SDK raises what it would have raised against the provider itself. Every
  // string is scrubbed of the provider's key, which some providers echo in part or whole.
  const status = failure.status;
  const fields = protocol.errorFields(failure.body);
  const credentials = status === 401 || status === 403;
  const type: ErrorType = status === 429
    ? "rate_limited"
    : credentials
    ? "upstream_error"
    : "invalid_request";
  const message = credentials
    ? `provider "${provider.name}" refused the gateway's credentials for it (HTTP ${status}); the gateway's provider key needs fixing, not your API key`
    : redactKey(fields.message ?? failure.message, provider);
  const passed: Record<string, unknown> = { ...details };
  if (fields.type) passed.type = redactKey(fields.type, provider);
  if (fields.code !== undefined && fields.code !== null) {
    passed.code = typeof fields.code === "string" ? redactKey(fields.code, provider) : fields.code;
  }
  if (fields.param) passed.param = redactKey(fields.param, provider);
  const retryAfter = failure.headers?.get("retry-after");
  return new ApiError(
    type,
    message,
    passed,
    retryAfter ? { "Retry-After": retryAfter } : {},
    status,
  );
}
