/**
 * The tracing setups the benchmark compares. The shipped default is the one src/telemetry/otel.ts
 * uses when no OTEL_* setting says otherwise; the variants are the alternatives it was chosen
 * against (see docs/benchmarks.md for the figures).
 */

/** One way of producing and exporting the request's span. */
export interface TracingSetup {
  readonly id: string;
  readonly label: string;
  /** Environment of the server process. */
  readonly env: Record<string, string>;
  /** True when spans leave the process (the server gets OTEL_EXPORTER_OTLP_ENDPOINT). */
  readonly exports: boolean;
  /** A different entry point than src/main.ts, for setups the server does not ship. */
  readonly script?: string;
}

/** The default sampling ratio the comparison uses for ratio samplers. */
export const DEFAULT_RATIO = "0.1";

/** Deno's built-in exporter with its console and runtime-metrics capture off. */
const DENO_BUILTIN = { OTEL_DENO: "true", OTEL_DENO_CONSOLE: "ignore", OTEL_DENO_METRICS: "false" };

/** What the server does by default. */
export const SHIPPED_TRACING: TracingSetup = {
  id: "shipped",
  label: "Deno built-in exporter, all traced",
  env: { OTEL_DENO: "true" },
  exports: true,
};

/** The shipped setup with every request traced. */
export const ALL_TRACED: TracingSetup = {
  id: "shipped-all",
  label: "Deno built-in exporter, always_on",
  env: { OTEL_DENO: "true", OTEL_TRACES_SAMPLER: "always_on" },
  exports: true,
};

/** The alternatives. */
export const TRACING_VARIANTS: readonly TracingSetup[] = [
  { id: "no-export", label: "no span export (OTEL_DENO unset)", env: {}, exports: false },
  {
    id: "builtin-all",
    label: "Deno built-in, always_on, console and metrics capture off",
    env: { ...DENO_BUILTIN, OTEL_TRACES_SAMPLER: "always_on" },
    exports: true,
  },
  {
    id: "builtin-ratio",
    label: `Deno built-in, parentbased_traceidratio ${DEFAULT_RATIO}`,
    env: {
      ...DENO_BUILTIN,
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: DEFAULT_RATIO,
    },
    exports: true,
  },
  {
    id: "sdk-all",
    label: "JS SDK BatchSpanProcessor + OTLP/proto, always_on",
    env: { OTEL_TRACES_SAMPLER: "always_on" },
    exports: true,
    script: "scripts/bench/servers/app_sdk_tracing.ts",
  },
  {
    id: "sdk-ratio",
    label: `JS SDK BatchSpanProcessor + OTLP/proto, parentbased_traceidratio ${DEFAULT_RATIO}`,
    env: {
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: DEFAULT_RATIO,
    },
    exports: true,
    script: "scripts/bench/servers/app_sdk_tracing.ts",
  },
];
