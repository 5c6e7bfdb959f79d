/**
 * The server's settings: environment variables and the files they name, read and validated once
 * at start-up into one typed object. The only module that reads the environment. Every setting is
 * in the README's table.
 */
import { z } from "zod";
import { embeddedPriceTable, loadPriceTable, type PriceTable } from "./pricing/pricing.ts";
import {
  embeddedTenantDirectory,
  loadTenantDirectory,
  type TenantDirectory,
} from "./tenants/tenants.ts";
import {
  loadProviderDirectory,
  noProviders,
  type ProviderDirectory,
} from "./providers/providers.ts";

/** The standard OTEL_TRACES_SAMPLER values. */
export const TRACES_SAMPLERS = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;
/** One of {@link TRACES_SAMPLERS}. */
export type TracesSampler = typeof TRACES_SAMPLERS[number];
/** The OTLP/HTTP encodings the span exporter speaks (gRPC is not supported). */
export const OTLP_PROTOCOLS = ["http/protobuf", "http/json"] as const;

/** A setting that does not validate; the message names it. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const flag = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

const envSchema = z.object({
  PORT: int(0, 65535).default(8000),
  HOST: z.string().min(1).default("127.0.0.1"),
  PRICING_FILE: z.string().min(1).optional(),
  TENANTS_FILE: z.string().min(1).optional(),
  PROVIDERS_FILE: z.string().min(1).optional(),
  UNPRICED_POLICY: z.enum(["reject", "allow"]).default("reject"),
  MAX_BODY_BYTES: int(1024, 1 << 30).default(1 << 20),
  MAX_PROMPT_CHARS: int(1, 1 << 30).default(1 << 20),
  MAX_CONCURRENT_REQUESTS: int(1, 1_000_000).default(1024),
  BODY_TIMEOUT_MS: int(1, 600_000).default(30_000),
  SIM_MODE: z.enum(["echo", "realistic"]).default("echo"),
  SIM_TTFT_MS: int(0, 600_000).default(200),
  SIM_TOKEN_MS: int(0, 60_000).default(20),
  UPSTREAM_TIMEOUT_MS: int(1, 3_600_000).default(60_000),
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000),
  BUDGET_STORE: z.enum(["memory", "redis"]).default("memory"),
  REDIS_URL: z.string().url().optional(),
  TRACE_CONTENT: flag.default(false),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  OTEL_SERVICE_NAME: z.string().min(1).default("inference-cost-tracker"),
  OTEL_TRACES_EXPORTER: z.enum(["otlp", "console", "none"]).default("otlp"),
  OTEL_DENO: flag.default(false),
  OTEL_DENO_TRACING: flag.optional(),
  OTEL_TRACES_SAMPLER: z.enum(TRACES_SAMPLERS).default("parentbased_always_on"),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
  OTEL_EXPORTER_OTLP_PROTOCOL: z.enum(OTLP_PROTOCOLS).default("http/protobuf"),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: z.enum(OTLP_PROTOCOLS).optional(),
  // The spec's 512: the export runs in its worker thread, where a batch no longer stalls requests,
  // and each export's fixed cost spread over more spans took 28 % off the worker's CPU per span.
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: int(1, 100_000).default(512),
  OTEL_BSP_SCHEDULE_DELAY: int(0, 600_000).default(1000),
  OTEL_BSP_MAX_QUEUE_SIZE: int(1, 1_000_000).default(2048),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().url().optional(),
  LEDGER_URL: z.string().min(1).default("sqlite:./data/ledger.sqlite"),
  LEDGER_OUTBOX: z.string().min(1).default("./data/ledger-outbox.sqlite"),
  LEDGER_SYNC: z.enum(["normal", "full"]).default("normal"),
  LEDGER_RETENTION_DAYS: int(1, 1_000_000).optional(),
  JAEGER_UI_URL: z.string().url().regex(/^https?:\/\//, "must be an http(s) URL").optional(),
}).superRefine((env, ctx) => {
  if (env.BUDGET_STORE === "redis" && !env.REDIS_URL) {
    ctx.addIssue({
      code: "custom",
      path: ["REDIS_URL"],
      message: "is required with BUDGET_STORE=redis",
    });
  }
  if (parseLedgerUrl(env.LEDGER_URL, env.LEDGER_OUTBOX, env.LEDGER_SYNC) === null) {
    ctx.addIssue({
      code: "custom",
      path: ["LEDGER_URL"],
      message: "must be none, sqlite:<path> or postgres://…",
    });
  }
});

/**
 * Where the spend ledger lives: a SQLite file, PostgreSQL (through a local SQLite outbox), or
 * nowhere. `sync` is SQLite's `synchronous` setting for the file (or the outbox).
 */
export type LedgerStoreConfig =
  | { readonly kind: "none" }
  | { readonly kind: "sqlite"; readonly path: string; readonly sync: "normal" | "full" }
  | {
    readonly kind: "postgres";
    readonly url: string;
    readonly outboxPath: string;
    readonly sync: "normal" | "full";
  };

/** Parses a LEDGER_URL; null when it is none of the three forms. */
export function parseLedgerUrl(
  url: string,
  outboxPath: string,
  sync: "normal" | "full",
): LedgerStoreConfig | null {
  if (url === "none") return { kind: "none" };
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length);
    return path === "" ? null : { kind: "sqlite", path, sync };
  }
  if (/^postgres(ql)?:\/\/[^/]/.test(url) && URL.canParse(url)) {
    return { kind: "postgres", url, outboxPath, sync };
  }
  return null;
}

/** The server's whole configuration. */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly prices: PriceTable;
  readonly tenants: TenantDirectory;
  /** Upstream providers and the models they serve; API keys resolved from the environment. */
  readonly providers: ProviderDirectory;
  readonly unpricedPolicy: "reject" | "allow";
  readonly maxBodyBytes: number;
  readonly maxPromptChars: number;
  readonly maxConcurrentRequests: number;
  /** Longest time a client may take to send its request body (slow loris) → 408. */
  readonly bodyTimeoutMs: number;
  readonly sim: {
    readonly mode: "echo" | "realistic";
    readonly ttftMs: number;
    readonly tokenMs: number;
  };
  readonly upstreamTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly budgetStore: "memory" | "redis";
  readonly redisUrl?: string;
  readonly traceContent: boolean;
  readonly logLevel: "debug" | "info" | "warn" | "error" | "silent";
  readonly serviceName: string;
  /** `otlp`: exported over OTLP (see telemetry/otel.ts for when); `console`: spans on stdout. */
  readonly tracesExporter: "otlp" | "console" | "none";
  /** OTEL_TRACES_SAMPLER (default parentbased_always_on: every request traced). */
  readonly tracesSampler: TracesSampler;
  /** OTEL_TRACES_SAMPLER_ARG: the ratio of the `traceidratio` samplers, 0…1. */
  readonly tracesSamplerArg: number;
  /** OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL. */
  readonly otlpTracesProtocol: typeof OTLP_PROTOCOLS[number];
  /** The SDK batch processor: OTEL_BSP_MAX_EXPORT_BATCH_SIZE, _SCHEDULE_DELAY (ms), _MAX_QUEUE_SIZE. */
  readonly spanBatch: {
    readonly maxExportBatchSize: number;
    readonly scheduledDelayMs: number;
    readonly maxQueueSize: number;
  };
  /** OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set: spans are wanted. */
  readonly otlpEndpointConfigured: boolean;
  /** OTEL_DENO=true: Deno's telemetry is on. */
  readonly denoTelemetry: boolean;
  /**
   * Deno's own tracing is on (OTEL_DENO=true, OTEL_DENO_TRACING not false): its fetch then writes
   * `traceparent` into every upstream call itself.
   */
  readonly denoFetchTracing: boolean;
  /** LEDGER_URL (with LEDGER_OUTBOX and LEDGER_SYNC): where every priced request is recorded. */
  readonly ledger: LedgerStoreConfig;
  /** LEDGER_RETENTION_DAYS: rows older than this many days are pruned; undefined keeps all. */
  readonly ledgerRetentionDays?: number;
  /** JAEGER_UI_URL: the live page links trace ids to `<url>/trace/<id>`. */
  readonly jaegerUiUrl?: string;
}

/** Builds the configuration from an environment map. Throws {@link ConfigError} naming the setting. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ""),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue.path[0] ?? "environment");
    // A URL's password (LEDGER_URL, REDIS_URL) never reaches the message, which ends up in logs.
    const shown = env[name]?.replace(/\/\/[^/@\s]*@/, "//***@") ?? null;
    throw new ConfigError(`${name}: ${issue.message} (got ${JSON.stringify(shown)})`);
  }
  const e = parsed.data;
  try {
    return {
      port: e.PORT,
      host: e.HOST,
      prices: e.PRICING_FILE ? loadPriceTable(e.PRICING_FILE) : embeddedPriceTable(),
      tenants: e.TENANTS_FILE ? loadTenantDirectory(e.TENANTS_FILE) : embeddedTenantDirectory(),
      providers: e.PROVIDERS_FILE ? loadProviderDirectory(e.PROVIDERS_FILE, env) : noProviders(),
      unpricedPolicy: e.UNPRICED_POLICY,
      maxBodyBytes: e.MAX_BODY_BYTES,
      maxPromptChars: e.MAX_PROMPT_CHARS,
      maxConcurrentRequests: e.MAX_CONCURRENT_REQUESTS,
      bodyTimeoutMs: e.BODY_TIMEOUT_MS,
      sim: { mode: e.SIM_MODE, ttftMs: e.SIM_TTFT_MS, tokenMs: e.SIM_TOKEN_MS },
      upstreamTimeoutMs: e.UPSTREAM_TIMEOUT_MS,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
      budgetStore: e.BUDGET_STORE,
      redisUrl: e.REDIS_URL,
      traceContent: e.TRACE_CONTENT,
      logLevel: e.LOG_LEVEL,
      serviceName: e.OTEL_SERVICE_NAME,
      tracesExporter: e.OTEL_TRACES_EXPORTER,
      tracesSampler: e.OTEL_TRACES_SAMPLER,
      tracesSamplerArg: e.OTEL_TRACES_SAMPLER_ARG,
      otlpTracesProtocol: e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL,
      spanBatch: {
        maxExportBatchSize: e.OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
        scheduledDelayMs: e.OTEL_BSP_SCHEDULE_DELAY,
        maxQueueSize: e.OTEL_BSP_MAX_QUEUE_SIZE,
      },
      otlpEndpointConfigured: e.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined ||
        e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined,
      denoTelemetry: e.OTEL_DENO,
      denoFetchTracing: e.OTEL_DENO && e.OTEL_DENO_TRACING !== false,
      ledger: parseLedgerUrl(e.LEDGER_URL, e.LEDGER_OUTBOX, e.LEDGER_SYNC)!,
      ledgerRetentionDays: e.LEDGER_RETENTION_DAYS,
      jaegerUiUrl: e.JAEGER_UI_URL,
    };
  } catch (error) {
    const kind = (error as Error).name;
    const which = kind === "PricingError"
      ? "PRICING_FILE"
      : kind === "ProvidersError"
      ? "PROVIDERS_FILE"
      : "TENANTS_FILE";
    throw new ConfigError(`${which}: ${(error as Error).message}`);
  }
}

/** The configuration of this process, from `Deno.env`. */
export function configFromEnvironment(): Config {
  return loadConfig(Deno.env.toObject());
}
