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
 *   parentbased_always_on: every request traced). This is the fast path: measured side by side it
 *   takes about a third less CPU per request than Deno's tracing with the same spans. The
 *   exporter reads the standard OTEL_EXPORTER_OTLP_* endpoint, header and timeout variables
 *   itself, as Deno's does.
 * - OTEL_TRACES_EXPORTER=console prints each span to stdout (development without a collector);
 *   `none`, or nothing configured, makes spans no-ops.
 */
import { ProxyTracerProvider, trace, type Tracer } from "@opentelemetry/api";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  SimpleSpanProcessor,
  type SpanExporter,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import { OTLPExporterBase } from "@opentelemetry/otlp-exporter-base";
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from "@opentelemetry/otlp-exporter-base/node-http";
import {
  JsonTraceSerializer,
  ProtobufTraceSerializer,
  TraceExporterMetricsHelper,
} from "@opentelemetry/otlp-transformer";
import type { Config, OTLP_PROTOCOLS, TracesSampler } from "../config.ts";

/** The OTLP/HTTP encodings the exporter speaks. */
export type OtlpProtocol = typeof OTLP_PROTOCOLS[number];

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

/** An OTLP/HTTP span exporter in `protocol`, configured by the OTEL_EXPORTER_OTLP_* variables. */
export function otlpTraceExporter(protocol: OtlpProtocol): SpanExporter {
  const json = protocol === "http/json";
  const options = convertLegacyHttpOptions({}, "TRACES", "v1/traces", {
    "Content-Type": json ? "application/json" : "application/x-protobuf",
  });
  return new OTLPExporterBase<ReadableSpan[]>(
    createOtlpHttpExportDelegate(
      options,
      json ? JsonTraceSerializer : ProtobufTraceSerializer,
      "otlp_http_span_exporter",
      TraceExporterMetricsHelper,
      undefined,
    ),
  );
}

function withDeadline(flush: Promise<void>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<void>((resolve) => timer = setTimeout(resolve, FLUSH_DEADLINE_MS));
  return Promise.race([flush.catch(() => {}), deadline]).finally(() => clearTimeout(timer));
}

/** Sets up tracing as the configuration asks. */
export function setupTracing(config: TracingConfig): TracingSetup {
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
      const provider = new TracerProvider({
        resource: resource(),
        sampler: samplerFor(config.tracesSampler, config.tracesSamplerArg),
        spanProcessors: [
          new BatchSpanProcessor({
            exporter: otlpTraceExporter(config.otlpTracesProtocol),
            maxExportBatchSize: Math.min(
              config.spanBatch.maxExportBatchSize,
              config.spanBatch.maxQueueSize,
            ),
            scheduledDelayMillis: config.spanBatch.scheduledDelayMs,
            maxQueueSize: config.spanBatch.maxQueueSize,
          }),
        ],
      });
      return {
        pipeline,
        tracer: provider.getTracer(config.serviceName),
        // Shut down rather than force-flush: BatchSpanProcessor.forceFlush does not wait for an
        // export already in flight (one starts as soon as a batch is full), so the last batch
        // was lost at exit; shutdown also waits for the exporter's pending sends.
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
