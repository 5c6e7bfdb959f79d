/**
 * Start-up: configuration → app → Deno.serve, and a graceful shutdown on SIGTERM/SIGINT (stop
 * accepting, finish in-flight requests, flush spans). Holds no logic of its own.
 */
import { ConfigError, configFromEnvironment } from "./config.ts";
import { createApp } from "./app.ts";
import { setupTracing } from "./telemetry/otel.ts";
import { createLogger } from "./log.ts";
import { batchedWriter } from "./log_batch.ts";
import { counterFor } from "./usage/counting.ts";

function main(): void {
  let config;
  try {
    config = configFromEnvironment();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`inference-cost-tracker: configuration error: ${error.message}`);
      Deno.exit(2);
    }
    throw error;
  }
  // One write per event-loop turn instead of one per request; flushed on every way out.
  const logOut = batchedWriter();
  addEventListener("unload", () => logOut.flush());
  const logger = createLogger(config.logLevel, logOut.write);
  const tracing = setupTracing(config);
  const { app, readiness, services } = createApp(config, { tracer: tracing.tracer, logger });
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
    const drained = await Promise.race([
      server.shutdown().then(() => "drained" as const),
      deadline,
    ]);
    await tracing.flush();
    await services.budgets.close();
    logger.info("stopped", { result: drained });
    Deno.exit(0);
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => void stop(signal));
  }
}

main();
