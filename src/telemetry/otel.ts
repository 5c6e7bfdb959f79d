/**
 * Where spans go — chosen by measurement (docs/benchmarks.md, scenario 1):
 *
 * - Deno's own tracing on (OTEL_DENO=true, OTEL_DENO_TRACING not false): the request spans use
 *   Deno's built-in tracer and native exporter. Deno already makes an HTTP span per request and
 *   carries the trace context through every await, so a second pipeline would only add cost.
 * - Otherwise, when spans are wanted (OTEL_DENO=true with OTEL_DENO_TRACING=false, or an
 *   OTEL_EXPORTER_OTLP_ENDPOINT / _TRACES_ENDPOINT set): the OpenTelemetry JS SDK's
 *   BatchSpanProcessor exports them over OTLP/HTTP (protobuf, or JSON with
 *   OTEL_EXPORTER_OTLP_PROTOCOL=http/json), sampled as OTEL_TRACES_SAMPLER says (default
 *   parentbased_always_on: every request traced), from a worker (span_export.ts), so that
 *   serializing and sending them is off the event loop. This is the fast path: measured side by
 *   side it takes far less CPU per request than Deno's tracing with the same spans. The exporter
 *   reads the standard OTEL_EXPORTER_OTLP_* endpoint, header and timeout variables itself, as
 *   Deno's does.
 * - OTEL_TRACES_EXPORTER=console prints each span to stdout (development without a collector);
 *   `none`, or nothing configured, makes spans no-ops.
 */
import { ProxyTracerProvider, trace, type Tracer } from "@opentelemetry/api";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ConsoleSpanExporter,
  ParentBasedSampler,
  type Sampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import type { Config, TracesSampler } from "../config.ts";
import type { Logger } from "../log.ts";
import { WorkerSpanProcessor } from "./span_export.ts";

/** The settings tracing is built from. */
export type TracingConfig = Pick<
  Config,
  | "serviceName"
  | "tracesExporter"
  | "tracesSampler"
  | "tracesSamplerArg"
  | "otlpTracesProtocol"
  | "spanBatch"
  | "otlpEndpointConfigured"
  | "denoTelemetry"
  | "denoFetchTracing"
>;

/** How spans leave the process. */
export type SpanPipeline = "deno" | "sdk" | "console" | "none";

/** The tracer for the app and a flush to call before exit. */
export interface TracingSetup {
  readonly pipeline: SpanPipeline;
  readonly tracer: Tracer;
  flush(): Promise<void>;
}

/** The longest a flush at shutdown waits for a collector that does not answer. */
const FLUSH_DEADLINE_MS = 3_000;

/** Which pipeline the configuration selects (see the module comment). */
export function spanPipeline(config: TracingConfig): SpanPipeline {
  if (config.tracesExporter === "console") return "console";
  if (config.tracesExporter === "none") return "none";
  if (config.denoFetchTracing) return "deno";
  if (config.denoTelemetry || config.otlpEndpointConfigured) return "sdk";
  return "none";
}

/** The sampler a standard OTEL_TRACES_SAMPLER name and argument describe. */
export function samplerFor(name: TracesSampler, ratio: number): Sampler {
  const root = name.endsWith("always_off")
    ? new AlwaysOffSampler()
    : name.endsWith("traceidratio")
    ? new TraceIdRatioBasedSampler(ratio)
    : new AlwaysOnSampler();
  return name.startsWith("parentbased_") ? new ParentBasedSampler({ root }) : root;
}

function withDeadline(flush: Promise<void>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<void>((resolve) => timer = setTimeout(resolve, FLUSH_DEADLINE_MS));
  return Promise.race([flush.catch(() => {}), deadline]).finally(() => clearTimeout(timer));
}

/** Sets up tracing as the configuration asks; `logger` hears of a failed export worker. */
export function setupTracing(
  config: TracingConfig,
  logger?: Pick<Logger, "error">,
): TracingSetup {
  const pipeline = spanPipeline(config);
  const resource = () =>
    defaultResource().merge(resourceFromAttributes({ "service.name": config.serviceName }));
  switch (pipeline) {
    case "console": {
      const provider = new TracerProvider({
        resource: resource(),
        spanProcessors: [new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() })],
      });
      return {
        pipeline,
        tracer: provider.getTracer(config.serviceName),
        flush: () => provider.forceFlush(),
      };
    }
    case "deno":
      // Deno's exporter batches in native code and flushes when the process exits.
      return {
        pipeline,
        tracer: trace.getTracer(config.serviceName),
        flush: () => Promise.resolve(),
      };
    case "sdk": {
      const spanResource = resource();
      const worker = new Worker(new URL("./span_worker.ts", import.meta.url), { type: "module" });
      const processor = new WorkerSpanProcessor(
        {
          protocol: config.otlpTracesProtocol,
          resource: { attributes: spanResource.attributes, schemaUrl: spanResource.schemaUrl },
          batch: config.spanBatch,
        },
        worker,
        () => worker.terminate(),
      );
      // A failed worker costs the spans, not the server: the error is handled here, not rethrown.
      worker.addEventListener("error", (event) => {
        event.preventDefault();
        processor.abandon();
        worker.terminate();
        logger?.error("span export worker failed; spans are no longer exported", {
          error: event.message,
        });
      });
      const provider = new TracerProvider({
        resource: spanResource,
        sampler: samplerFor(config.tracesSampler, config.tracesSamplerArg),
        spanProcessors: [processor],
      });
      return {
        pipeline,
        tracer: provider.getTracer(config.serviceName),
        // Shut down rather than force-flush: the worker's processor then also waits for the
        // exporter's sends in flight, and the worker ends.
        flush: () => withDeadline(provider.shutdown()),
      };
    }
    case "none":
      return {
        pipeline,
        tracer: new ProxyTracerProvider().getTracer(config.serviceName),
        flush: () => Promise.resolve(),
      };
  }
}
