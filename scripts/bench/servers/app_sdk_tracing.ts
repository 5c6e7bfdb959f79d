/**
 * The server wired exactly as src/main.ts wires it, except that spans go through the OpenTelemetry
 * JS SDK (BatchSpanProcessor → OTLP/HTTP protobuf exporter) instead of Deno's built-in exporter.
 * A contender of the tracing comparison only. Reads the standard OTEL_TRACES_SAMPLER (always_on,
 * parentbased_always_on, traceidratio, parentbased_traceidratio) and OTEL_TRACES_SAMPLER_ARG; the
 * exporter reads OTEL_EXPORTER_OTLP_ENDPOINT itself.
 */
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { configFromEnvironment } from "../../../src/config.ts";
import { createApp } from "../../../src/app.ts";
import { counterFor } from "../../../src/usage/counting.ts";
import { createLogger } from "../../../src/log.ts";
import { batchedWriter } from "../../../src/log_batch.ts";

function samplerFromEnvironment(): Sampler {
  const name = Deno.env.get("OTEL_TRACES_SAMPLER") ?? "parentbased_always_on";
  const ratio = Number(Deno.env.get("OTEL_TRACES_SAMPLER_ARG") ?? "1");
  const root = name.endsWith("traceidratio")
    ? new TraceIdRatioBasedSampler(ratio)
    : new AlwaysOnSampler();
  return name.startsWith("parentbased_") ? new ParentBasedSampler({ root }) : root;
}

const config = configFromEnvironment();
const provider = new TracerProvider({
  resource: resourceFromAttributes({ "service.name": config.serviceName }),
  sampler: samplerFromEnvironment(),
  spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })],
});
const logOut = batchedWriter();
addEventListener("unload", () => logOut.flush());
const { app } = createApp(config, {
  tracer: provider.getTracer(config.serviceName),
  logger: createLogger(config.logLevel, logOut.write),
});
for (const price of config.prices.models.values()) counterFor(price).count("warm up");
Deno.serve({ hostname: config.host, port: config.port, onListen: () => {} }, app.fetch);
Deno.addSignalListener("SIGTERM", async () => {
  await provider.forceFlush();
  Deno.exit(0);
});
