/**
 * Start-up: configuration → app (its ledger opened) → budgets restored from the ledger →
 * Deno.serve, and a graceful shutdown on SIGTERM/SIGINT (stop accepting, end the live pages'
 * streams, finish in-flight requests, flush spans, close the ledger). Holds no logic of its own.
 */
import { ConfigError, configFromEnvironment } from "./config.ts";
import { type BuiltApp, createApp } from "./app.ts";
import { restoreBudgets } from "./services.ts";
import { setupTracing } from "./telemetry/otel.ts";
import { createLogger } from "./log.ts";
import { batchedWriter } from "./log_batch.ts";
import { counterFor } from "./usage/counting.ts";

async function main(): Promise<void> {
  let config;
  try {
    config = configFromEnvironment();
  } catch (error) {
    configurationError(error);
  }
  // One write per event-loop turn instead of one per request; flushed on every way out.
  const logOut = batchedWriter();
  addEventListener("unload", () => logOut.flush());
  const logger = createLogger(config.logLevel, logOut.write);
  const tracing = setupTracing(config);
  let built: BuiltApp;
  try {
    built = createApp(config, { tracer: tracing.tracer, logger });
  } catch (error) {
    configurationError(error);
  }
  const { app, readiness, services } = built;
  try {
    const tenants = await restoreBudgets(services);
    if (tenants !== null) logger.info("budgets restored from the ledger", { tenants });
  } catch (error) {
    // A ledger that cannot be read now (PostgreSQL down), or a Redis that is down, must not keep
    // the server from starting.
    logger.error(
      config.budgetStore === "redis"
        ? "budgets could not be restored from the ledger; Redis keeps the spend it holds, and a window it lost is rebuilt at the next start"
        : "budgets could not be restored from the ledger; they start from zero",
      { error: error instanceof Error ? error.message : String(error) },
    );
  }
  // Load every vocabulary the price table needs now, so no request pays for it.
  for (const price of config.prices.models.values()) counterFor(price).count("warm up");
  counterFor(undefined).count("warm up");

  const server = Deno.serve({
    port: config.port,
    hostname: config.host,
    onListen: ({ hostname, port }) => {
      logger.info("listening", {
        url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`,
        pricing_version: config.prices.version,
        models: config.prices.models.size,
        tenants: config.tenants.tenants.length,
        auth: config.tenants.keysConfigured ? "api_keys" : "demo",
        traces: tracing.pipeline,
        ledger: config.ledger.kind,
      });
    },
  }, app.fetch);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    readiness.ready = false;
    logger.info("shutting down", { signal });
    const deadline = new Promise<"timeout">((resolve) =>
      setTimeout(() => resolve("timeout"), config.shutdownTimeoutMs)
    );
    const shutdown = server.shutdown();
    // Open live pages would hold the shutdown until its deadline; they reconnect to the next start.
    services.live.hub.close();
    const drained = await Promise.race([shutdown.then(() => "drained" as const), deadline]);
    await tracing.flush();
    await services.budgets.close();
    // After the drain: every finished request's row is committed (PostgreSQL: shipped, or kept
    // in the outbox for the next start).
    await services.ledger?.close();
    logger.info("stopped", { result: drained });
    Deno.exit(0);
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => void stop(signal));
  }
}

/** Reports a configuration error (an invalid setting, an unusable ledger) and exits with 2. */
function configurationError(error: unknown): never {
  if (error instanceof ConfigError) {
    console.error(`inference-cost-tracker: configuration error: ${error.message}`);
    Deno.exit(2);
  }
  throw error;
}

await main();
