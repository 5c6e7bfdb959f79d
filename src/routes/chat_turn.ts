/**
 * One chat turn of the gateway routes after admission: what it carries, and how it ends when it
 * cannot answer: the client gone (499, prompt billed) or the upstream failed before any byte
 * (a JSON error in the route's shape, the upstream error kind recorded).
 */
import { ApiError, type ErrorType } from "../http/errors.ts";
import type { Services } from "../services.ts";
import type { InferenceCall } from "../usage/call.ts";
import type { TokenCounter } from "../tokens/count.ts";
import type { TokenUsage } from "../pricing/pricing.ts";
import { ATTR, type UpstreamErrorKind } from "../telemetry/names.ts";
import type { ReportedUsage } from "../backends/types.ts";
import type { Provider } from "../backends/providers.ts";
import {
  ClientGone,
  redactKey,
  UpstreamError,
  type UpstreamProtocol,
} from "../backends/upstream.ts";
import type { ChatApi, ChatRequest } from "./gateway.ts";

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
  end(failure?: UpstreamErrorKind | "client_closed", usage?: ReportedUsage, model?: string): void;
  abort(): void;
}

/** A usage counted here: no cache parts. */
export function localUsage(inputTokens: number, outputTokens: number): TokenUsage {
  return { inputTokens, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens };
}

/** Puts the generated text on the span when TRACE_CONTENT=true. */
export function recordContent(turn: Turn, text: string): void {
  if (turn.services.config.traceContent) turn.call.span.setAttribute(ATTR.completion, text);
}

/** The client left before anything was sent: the prompt was processed, so it is billed. */
export async function clientClosed(turn: Turn): Promise<Response> {
  await turn.call.finish({
    usage: localUsage(turn.promptTokens, 0),
    usageSource: "estimated",
    tokenCountMethod: turn.counter.method,
    status: "client_closed",
    errorType: "client_closed",
  });
  return new Response(null, { status: 499 });
}

/** A failure before anything reached the client: a JSON error in the API's shape, or 499. */
export async function upstreamFailed(
  turn: Turn,
  leg: Leg,
  provider: Provider | undefined,
  error: unknown,
): Promise<Response> {
  const failure = leg.failure(error, "protocol");
  if (failure instanceof ClientGone) {
    leg.end("client_closed");
    return await clientClosed(turn);
  }
  if (!(failure instanceof UpstreamError)) throw failure;
  leg.end(failure.kind);
  turn.call.upstreamErrorKind = failure.kind;
  throw toApiError(failure, turn.api.upstream, provider);
}

/** The client-facing error for an upstream failure. */
function toApiError(
  failure: UpstreamError,
  protocol: UpstreamProtocol,
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
