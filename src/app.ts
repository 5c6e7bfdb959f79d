/**
 * `createApp()` builds the Hono app from its parts. It holds no globals: every call returns a new
 * app with its own metrics registry, so tests build a fresh one each and a reload never registers
 * a metric twice.
 */
import { Hono } from "hono";
import type { Config } from "./config.ts";
import { ApiError } from "./http/errors.ts";
import { registerInferenceRoute } from "./routes/inference.ts";
import { registerOpenAiRoutes } from "./gateway/openai/route.ts";
import { registerResponsesRoutes } from "./gateway/openai/responses.ts";
import { registerEmbeddingsRoute } from "./gateway/openai/embeddings.ts";
import { registerAnthropicRoutes } from "./gateway/anthropic/route.ts";
import { registerCountTokensRoute } from "./gateway/anthropic/count_tokens.ts";
import { registerModelsRoutes } from "./routes/models.ts";
import { type Readiness, registerOpsRoutes } from "./routes/ops.ts";
import { registerSpendRoutes } from "./routes/spend.ts";
import { registerLiveRoutes } from "./live/routes.ts";
import { authorizeWithTenants } from "./live/access.ts";
import { createServices, type ServiceOverrides, type Services } from "./services.ts";

/** A built app and the services behind it. */
export interface BuiltApp {
  readonly app: Hono;
  readonly services: Services;
  readonly readiness: Readiness;
}

/** Builds the app for `config`, with optional replacements for its parts. */
export function createApp(config: Config, overrides: ServiceOverrides = {}): BuiltApp {
  const services = createServices(config, overrides);
  const readiness: Readiness = { ready: true };
  const app = new Hono();
  registerInferenceRoute(app, services);
  registerOpenAiRoutes(app, services);
  registerResponsesRoutes(app, services);
  registerEmbeddingsRoute(app, services);
  registerAnthropicRoutes(app, services);
  registerCountTokensRoute(app, services);
  registerModelsRoutes(app, services);
  registerOpsRoutes(app, services, readiness);
  // Demo mode: open to any caller; with keys, an admin key sees every tenant, a tenant key its own.
  const authorize = authorizeWithTenants(config.tenants);
  registerSpendRoutes(app, {
    ledger: services.ledger,
    authorize,
    now: () => services.now().getTime(),
    billingAccount: config.serviceName,
    logger: services.logger,
  });
  registerLiveRoutes(app, {
    hub: services.live.hub,
    data: services.live.data,
    tenants: config.tenants,
    authorize,
    now: services.now,
    jaegerUiUrl: config.jaegerUiUrl,
    logger: services.logger,
  });

  app.notFound((c) => {
    const known = KNOWN_PATHS.has(c.req.path) || c.req.path.startsWith("/v1/spend/requests/");
    const error = known
      ? new ApiError("method_not_allowed", `${c.req.method} is not allowed on ${c.req.path}`)
      : new ApiError("not_found", `no route ${c.req.method} ${c.req.path.slice(0, 200)}`);
    return c.json(error.toBody(), error.httpStatus as 404 | 405);
  });
  app.onError((thrown, c) => {
    services.logger.error("unhandled error", { error: String(thrown), path: c.req.path });
    const error = new ApiError("internal_error", "internal error");
    return c.json(error.toBody(), 500);
  });
  return { app, services, readiness };
}

const KNOWN_PATHS = new Set([
  "/v1/inference",
  "/v1/chat/completions",
  "/v1/messages",
  "/v1/responses",
  "/v1/embeddings",
  "/v1/messages/count_tokens",
  "/v1/models",
  "/health",
  "/ready",
  "/metrics",
  "/v1/spend",
  "/v1/spend/requests",
  "/v1/spend/export",
  "/",
  "/live/summary",
  "/live/events",
  "/live/app.js",
  "/live/style.css",
  "/favicon.ico",
]);
