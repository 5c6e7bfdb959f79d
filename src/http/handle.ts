/**
 * The frame every inference route runs in: admission (concurrency), the call's span, and turning
 * any thrown error into a recorded failure and a JSON error in the route's own API shape. An
 * unexpected exception is logged and answered as a 500 `internal_error`, never a stack trace.
 */
import type { Context } from "hono";
import { ApiError } from "./errors.ts";
import { presentedApiKey, requestIdOf } from "./request.ts";
import { InferenceCall } from "../usage/call.ts";
import type { Services } from "../services.ts";
import type { Principal, Tenant } from "../tenants/tenants.ts";

/** Renders an error in a route's API shape. */
export type ErrorRenderer = (error: ApiError, requestId: string) => Response;

/** This server's own error shape: `{"error":{"type","message",...}}`. */
export const renderNativeError: ErrorRenderer = (error, requestId) =>
  Response.json(error.toBody(), {
    status: error.httpStatus,
    headers: { ...error.headers, "x-request-id": requestId },
  });

/** Runs `handler` as one inference call. */
export async function handleInference(
  c: Context,
  services: Services,
  operation: "text_completion" | "chat",
  renderError: ErrorRenderer,
  handler: (call: InferenceCall) => Promise<Response>,
): Promise<Response> {
  const headers = c.req.raw.headers;
  const call = new InferenceCall(
    services,
    requestIdOf(headers),
    operation,
    headers.get("traceparent"),
  );
  const admitted = services.admission.enter();
  try {
    if (!admitted) {
      throw new ApiError(
        "overloaded",
        `server is at its limit of ${services.config.maxConcurrentRequests} concurrent requests (MAX_CONCURRENT_REQUESTS); retry shortly`,
        {},
        { "Retry-After": "1" },
      );
    }
    const response = await handler(call);
    response.headers.set("x-request-id", call.requestId);
    return response;
  } catch (thrown) {
    const error = thrown instanceof ApiError ? thrown : internalError(services, call, thrown);
    await call.fail(error);
    return renderError(error, call.requestId);
  } finally {
    // A streamed response outlives its handler: its slot is held until the call closes.
    if (admitted) {
      if (call.isClosed) services.admission.leave();
      else void call.closed.then(() => services.admission.leave());
    }
  }
}

function internalError(services: Services, call: InferenceCall, thrown: unknown): ApiError {
  services.logger.error("unexpected error", {
    request_id: call.requestId,
    error: thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown),
  });
  return new ApiError(
    "internal_error",
    "internal error; see the server log for request " + call.requestId,
  );
}

/**
 * The authenticated principal when API keys are configured (401 otherwise); null in demo mode.
 * The error for a wrong key is the same as for a missing one: it tells nothing about which exist.
 */
export function authenticate(services: Services, headers: Headers): Principal | null {
  const tenants = services.config.tenants;
  if (!tenants.keysConfigured) return null;
  const key = presentedApiKey(headers);
  const principal = key === undefined ? null : tenants.authenticate(key);
  if (!principal) {
    throw new ApiError(
      "unauthorized",
      "a valid API key is required (Authorization: Bearer <key> or x-api-key)",
      {},
      { "WWW-Authenticate": "Bearer" },
    );
  }
  return principal;
}

/** Applies the tenant's per-minute rate limit; throws 429 `rate_limited` when over it. */
export function checkRateLimit(services: Services, tenant: Tenant): void {
  const nowMs = services.now().getTime();
  if (!services.admission.allowRate(tenant.id, tenant.rateLimitPerMinute, nowMs)) {
    throw new ApiError(
      "rate_limited",
      `tenant "${tenant.id}" is over its limit of ${tenant.rateLimitPerMinute} requests per minute`,
      { limit_per_minute: tenant.rateLimitPerMinute },
      { "Retry-After": String(60 - Math.floor((nowMs % 60_000) / 1000)) },
    );
  }
}

/** Headers that tell a client how much budget is left in each limited window. */
export function budgetHeaders(call: InferenceCall): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of call.remaining) {
    out[`x-budget-remaining-${r.window}-usd`] = (Number(r.remainingPico) / 1e12).toFixed(6);
    out[`x-budget-resets-${r.window}`] = r.resetsAt.toISOString();
  }
  return out;
}
