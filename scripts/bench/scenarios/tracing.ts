/**
 * The tracing setups the benchmark compares (src/telemetry/otel.ts picks the pipeline). The
 * shipped default is what the server does when tracing is asked for the documented way, by
 * setting OTEL_EXPORTER_OTLP_ENDPOINT: the JS SDK's BatchSpanProcessor exports every request's
 * span over OTLP/HTTP protobuf. The variants are the alternatives it was chosen against
 * (figures in docs/benchmarks.md).
 */

/** One way of producing and exporting the request's span. */
export interface TracingSetup {
  readonly id: string;
  readonly label: string;
  /** Environment of the server process. */
  readonly env: Record<string, string>;
  /** True when spans leave the process (the server gets OTEL_EXPORTER_OTLP_ENDPOINT). */
  readonly exports: boolean;
}

/** The ratio the comparison uses for ratio samplers. */
export const RATIO = "0.1";

const ratioSampler = {
  OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
  OTEL_TRACES_SAMPLER_ARG: RATIO,
};

/** What the server does when tracing is switched on with an OTLP endpoint and nothing else. */
export const SHIPPED_TRACING: TracingSetup = {
  id: "shipped",
  label: "SDK batch exporter, OTLP/HTTP protobuf, every request traced",
  env: {},
  exports: true,
};

/** The alternatives. */
export const TRACING_VARIANTS: readonly TracingSetup[] = [
  {
    id: "sdk-ratio",
    label: `SDK batch exporter, parentbased_traceidratio ${RATIO}`,
    env: ratioSampler,
    exports: true,
  },
  {
    id: "sdk-json",
    label: "SDK batch exporter, OTLP/HTTP JSON, every request traced",
    env: { OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" },
    exports: true,
  },
  {
    id: "sdk-deno-metrics",
    label: "SDK batch exporter + Deno's runtime metrics (OTEL_DENO=true, OTEL_DENO_TRACING=false)",
    env: { OTEL_DENO: "true", OTEL_DENO_TRACING: "false" },
    exports: true,
  },
  {
    id: "deno",
    label: "Deno's built-in tracing and exporter (OTEL_DENO=true), every request traced",
    env: { OTEL_DENO: "true" },
    exports: true,
  },
  {
    id: "deno-ratio",
    label: `Deno's built-in tracing and exporter, parentbased_traceidratio ${RATIO}`,
    env: { OTEL_DENO: "true", ...ratioSampler },
    exports: true,
  },
  { id: "no-export", label: "no span export (nothing configured)", env: {}, exports: false },
];
