/**
 * Builds a fresh app for a test, with an in-memory span exporter and a captured log. The ledger is
 * off unless the test passes LEDGER_URL or a `ledger` override: no test shares a ledger file.
 */
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { createApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import type { ServiceOverrides } from "../../src/services.ts";
import { createLogger } from "../../src/log.ts";
import { type Exposition, parseExposition } from "./prom.ts";

/** A test app with its spans, log lines and a metrics reader. */
export function testApp(env: Record<string, string> = {}, overrides: ServiceOverrides = {}) {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const logLines: string[] = [];
  const built = createApp(loadConfig({ LOG_LEVEL: "debug", LEDGER_URL: "none", ...env }), {
    tracer: provider.getTracer("test"),
    logger: createLogger("debug", (line) => logLines.push(line)),
    ...overrides,
  });
  return {
    ...built,
    exporter,
    logLines,
    /** Parsed OpenMetrics exposition of the app's registry. */
    async metrics(): Promise<Exposition> {
      return parseExposition(await built.services.metrics.registry.metrics());
    },
    /** POSTs JSON to a path of the app. */
    post(path: string, body: unknown, headers: Record<string, string> = {}) {
      return built.app.request(path, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
    },
  };
}
