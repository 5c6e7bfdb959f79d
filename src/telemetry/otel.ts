/**
 * Where spans go. By default the global tracer is Deno's built-in OpenTelemetry (enabled by
 * OTEL_DENO=true, configured by the standard OTEL_* variables, exported over OTLP). With
 * OTEL_TRACES_EXPORTER=console an SDK provider prints each span to stdout instead, for
 * development without a collector.
 */
import { trace, type Tracer } from "@opentelemetry/api";
import { ConsoleSpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import type { Config } from "../config.ts";

/** The tracer for the app and a flush to call before exit. */
export interface TracingSetup {
  readonly tracer: Tracer;
  flush(): Promise<void>;
}

/** Sets up tracing as the configuration asks. */
export function setupTracing(config: Config): TracingSetup {
  if (config.tracesExporter === "console") {
    const provider = new TracerProvider({
      spanProcessors: [new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() })],
    });
    return {
      tracer: provider.getTracer(config.serviceName),
      flush: () => provider.forceFlush(),
    };
  }
  if (config.tracesExporter === "none") {
    // Spans still get ids (for exemplars and logs) but go nowhere.
    const provider = new TracerProvider();
    return { tracer: provider.getTracer(config.serviceName), flush: () => Promise.resolve() };
  }
  // Deno's built-in exporter batches in native code and flushes when the process exits.
  return { tracer: trace.getTracer(config.serviceName), flush: () => Promise.resolve() };
}
