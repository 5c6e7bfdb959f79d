/**
 * Admission, one code path for every inference route (/v1/inference, the chat gateway, Responses,
 * embeddings): the frame a request runs in (concurrency slot, the call and its span, any thrown
 * error turned into a recorded failure and a JSON error rendered in the route's own protocol
 * shape), authentication, the price lookup and UNPRICED_POLICY, where the model is served, the
 * max_tokens limit, the tenant's rate limit, the budget reservation of the worst case, and billing
 * a client that left. Unbilled pass-through routes (stored responses, token counting) run in a
 * lighter frame with the same authentication and budget refusal. Every refusal is an
 * {@link ApiError} of the documented set; an unexpected exception is logged and answered as a 500
 * `internal_error`, never a stack trace.
 */
import type { Context } from "hono";
import { routePath } from "hono/route";
import { ApiError, type ErrorRenderer } from "../http/errors.ts";
import { presentedApiKey, requestIdOf } from "../http/request.ts";
import { InferenceCall } from "../usage/call.ts";
import { localUsage, type Operation } from "../usage/record.ts";
import { counterFor } from "../usage/counting.ts";
import { type ModelPrice, worstCaseCostPico } from "../pricing/pricing.ts";
import type { Principal, Tenant } from "../tenants/tenants.ts";
import type { TokenCounter } from "../tokens/count.ts";
import type { ModelRoute, Protocol } from "../providers/providers.ts";
import type { Services } from "../services.ts";
import { reserveWorstCase } from "./budget.ts";

/** Runs `handler` as one inference call, rendering any error with `renderError`. */
export async function handleInference(
  c: Context,
  services: Services,
  operation: Operation,
  renderError: ErrorRenderer,
  handler: (call: InferenceCall) => Promise<Response>,
): Promise<Response> {
  const headers = c.req.raw.headers;
  const call = new InferenceCall(
    services,
    requestIdOf(headers),
    operation,
    // The registered path, not the URL: a bounded set of values for the ledger and the page.
    routePath(c),
    headers.get("traceparent"),
  );
  const admitted = services.limits.enter();
  try {
    if (!admitted) throw overloaded(services);
    const response = await handler(call);
    response.headers.set("x-request-id", call.requestId);
    return response;
  } catch (thrown) {
    const error = thrown instanceof ApiError
      ? thrown
      : internalError(services, call.requestId, thrown);
    await call.fail({ status: error.requestStatus, errorType: error.type });
    return renderError(error, call.requestId);
  } finally {
    // A streamed response outlives its handler: its slot is held until the call closes.
    if (admitted) {
      if (call.isClosed) services.limits.leave();
      else void call.closed.then(() => services.limits.leave());
    }
  }
}

/**
 * Runs `handler` for a route that bills nothing (a stored response, a token count): a concurrency
 * slot and the route's error shape, but no call, no usage record and no metrics.
 */
export async function handleUnbilled(
  c: Context,
  services: Services,
  renderError: ErrorRenderer,
  handler: (requestId: string) => Promise<Response>,
): Promise<Response> {
  const requestId = requestIdOf(c.req.raw.headers);
  if (!services.limits.enter()) return renderError(overloaded(services), requestId);
  try {
    const response = await handler(requestId);
    response.headers.set("x-request-id", requestId);
    return response;
  } catch (thrown) {
    const error = thrown instanceof ApiError ? thrown : internalError(services, requestId, thrown);
    return renderError(error, requestId);
  } finally {
    services.limits.leave();
  }
}

function overloaded(services: Services): ApiError {
  return new ApiError(
    "overloaded",
    `server is at its limit of ${services.config.maxConcurrentRequests} concurrent requests (MAX_CONCURRENT_REQUESTS); retry shortly`,
    {},
    { "Retry-After": "1" },
  );
}

function internalError(services: Services, requestId: string, thrown: unknown): ApiError {
  services.logger.error("unexpected error", {
    request_id: requestId,
    error: thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown),
  });
  return new ApiError(
    "internal_error",
    "internal error; see the server log for request " + requestId,
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

/** Who a gateway request is from: the tenant it bills and its API key's name (none in demo mode). */
export interface Caller {
  readonly tenant: Tenant;
  readonly keyName?: string;
}

/**
 * The caller of a gateway request: its API key's tenant and key name (401 without a valid key
 * when keys are configured), or in demo mode the `x-tenant-id` header's tenant, as these bodies
 * have no tenant field.
 */
export function requestCaller(services: Services, headers: Headers): Caller {
  const principal = authenticate(services, headers);
  if (principal) return { tenant: principal.tenant, keyName: principal.keyName };
  return { tenant: services.config.tenants.byRequestedId(headers.get("x-tenant-id") ?? undefined) };
}

/** The tenant a gateway request bills (see {@link requestCaller}). */
export function requestTenant(services: Services, headers: Headers): Tenant {
  return requestCaller(services, headers).tenant;
}

/** What a route asks admission to check, whatever its protocol. */
export interface AdmissionRequest {
  readonly tenant: Tenant;
  readonly model: string;
  /** max_tokens as the client sent it, checked against the model's own limit. */
  readonly maxTokens?: number;
  /** The service tier the client asked for: the worst case covers only it and the standard one. */
  readonly serviceTier?: string;
  /**
   * The route's checks of where the model is served (the gateway's providers), run after the
   * price lookup and before the limits; throws the route's documented 400s.
   */
  readonly checkServing?: (price: ModelPrice | undefined) => void;
  /** The request's input tokens, counted with the model's counter. */
  countInput(counter: TokenCounter): number;
  /** Output tokens the budget reservation covers (all completions together). */
  reservedOutput(price: ModelPrice | undefined): number;
}

/** An admitted request: the model's token counter and the input tokens reserved for. */
export interface Admitted {
  readonly counter: TokenCounter;
  readonly inputTokens: number;
}

/**
 * Admits a call for its tenant: prices the model (400 `unknown_model` under
 * UNPRICED_POLICY=reject), runs the route's serving checks, checks max_tokens against the model's
 * limit (400 `invalid_request`), the tenant's rate limit (429 `rate_limited`), and reserves the
 * worst-case cost in its budgets (429 `budget_exceeded`, 503 `budget_unavailable`).
 */
export async function admit(
  services: Services,
  call: InferenceCall,
  request: AdmissionRequest,
): Promise<Admitted> {
  const { prices, config } = services;
  const { tenant } = request;
  call.tenant = tenant;
  call.requestModel = request.model;
  call.maxTokens = request.maxTokens;
  call.price = prices.resolve(request.model);
  if (!call.price && config.unpricedPolicy === "reject") {
    throw new ApiError(
      "unknown_model",
      `model ${
        JSON.stringify(request.model.slice(0, 100))
      } has no price; add it to the price file (PRICING_FILE) or set UNPRICED_POLICY=allow`,
      { param: "model", models: [...prices.models.keys()] },
    );
  }
  request.checkServing?.(call.price);
  if (
    call.price && request.maxTokens !== undefined &&
    request.maxTokens > call.price.maxOutputTokens
  ) {
    throw new ApiError(
      "invalid_request",
      `max_tokens: must be at most ${call.price.maxOutputTokens} for ${call.price.id}`,
      { param: "max_tokens" },
    );
  }
  checkRateLimit(services, tenant);
  const counter = counterFor(call.price);
  const inputTokens = request.countInput(counter);
  if (call.price) {
    const output = request.reservedOutput(call.price);
    const amount = worstCaseCostPico(call.price, inputTokens, output, request.serviceTier);
    const { reservation, remaining } = await reserveWorstCase(
      services,
      tenant,
      amount,
      call.requestId,
    );
    call.hold(reservation, remaining);
  }
  return { counter, inputTokens };
}

/**
 * Where `model` is served for a route speaking `protocol`: a provider of the providers file, or
 * undefined for the simulated model. Throws 400 `unknown_model` when no provider lists it and
 * unrouted models are refused, and 400 `protocol_mismatch` when its provider speaks the other
 * protocol (`routes` names this server's routes for it).
 */
export function modelRoute(
  services: Services,
  model: string,
  protocol: Protocol,
): ModelRoute | undefined {
  const { providers } = services.config;
  const shown = JSON.stringify(model.slice(0, 100));
  const route = providers.route(model);
  if (!route && providers.unroutedModels === "reject") {
    throw new ApiError(
      "unknown_model",
      `model ${shown} is not served by any provider in the providers file (PROVIDERS_FILE)`,
      { param: "model" },
    );
  }
  if (route && route.provider.protocol !== protocol) {
    throw new ApiError(
      "protocol_mismatch",
      `model ${shown} is served by provider "${route.provider.name}" over ${
        API_ROUTES[route.provider.protocol]
      }; this gateway does not translate between the OpenAI and Anthropic APIs`,
      { param: "model" },
    );
  }
  return route;
}

/** The routes a model served over each protocol is reached through. */
const API_ROUTES: Record<Protocol, string> = {
  openai: "the OpenAI APIs: POST /v1/chat/completions, POST /v1/responses or POST /v1/embeddings",
  anthropic: "the Anthropic Messages API: POST /v1/messages",
};

/** Applies the tenant's per-minute rate limit; throws 429 `rate_limited` when over it. */
function checkRateLimit(services: Services, tenant: Tenant): void {
  const nowMs = services.now().getTime();
  if (!services.limits.allowRate(tenant.id, tenant.rateLimitPerMinute, nowMs)) {
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

/** The client left before anything was sent: the prompt was processed, so it is billed (499). */
export async function billClientLeft(
  call: InferenceCall,
  admitted: Admitted,
): Promise<Response> {
  await call.finish({
    usage: localUsage(admitted.inputTokens, 0),
    usageSource: "estimated",
    tokenCountMethod: admitted.counter.method,
    status: "client_closed",
    errorType: "client_closed",
  });
  return new Response(null, { status: 499 });
}
