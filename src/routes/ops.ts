/** Operational routes: GET /health, GET /ready, GET /metrics. */
import type { Hono } from "hono";
import { renderMetrics } from "../telemetry/exposition.ts";
import type { Services } from "../services.ts";

/** Whether the app takes traffic; flipped off when shutdown begins. */
export interface Readiness {
  ready: boolean;
}

/** Registers the operational routes. */
export function registerOpsRoutes(app: Hono, services: Services, readiness: Readiness): void {
  app.get("/health", (c) =>
    c.json({
      status: "ok",
      models: [...services.prices.models.keys()],
      pricing_version: services.prices.version,
    }));
  app.get(
    "/ready",
    (c) => readiness.ready ? c.json({ status: "ready" }) : c.json({ status: "shutting_down" }, 503),
  );
  app.get("/metrics", async (c) => {
    const [body, type] = await renderMetrics(
      services.metrics.registry,
      c.req.header("accept"),
    );
    return c.body(body, 200, { "content-type": type });
  });
}
