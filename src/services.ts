/**
 * The parts an app is built from. `main.ts` wires the real ones; tests build fresh ones with
 * `createServices()` and override what they need (a tracer with an in-memory exporter, a clock).
 */
import { trace, type Tracer } from "@opentelemetry/api";
import type { Config } from "./config.ts";
import type { Backend } from "./backends/types.ts";
import { createSimulatedBackend } from "./backends/simulated.ts";
import type { BudgetStore } from "./budgets/store.ts";
import { createMemoryBudgetStore } from "./budgets/memory.ts";
import { createRedisBudgetStore } from "./budgets/redis.ts";
import { createMetrics, type Metrics } from "./telemetry/metrics.ts";
import { createLogger, type Logger } from "./log.ts";
import { counterFor } from "./usage/counting.ts";
import type { CallServices } from "./usage/call.ts";
import type { UsageSink } from "./usage/sinks/sink.ts";
import { metricsSink } from "./usage/sinks/metrics.ts";
import { spanSink } from "./usage/sinks/span.ts";
import { logSink } from "./usage/sinks/log.ts";
import { createLimits, type Limits } from "./limits.ts";

/** Everything the routes use. */
export interface Services extends CallServices {
  readonly config: Config;
  readonly backend: Backend;
  readonly limits: Limits;
}

/** Optional overrides for {@link createServices}. */
export interface ServiceOverrides {
  readonly backend?: Backend;
  readonly budgets?: BudgetStore;
  readonly tracer?: Tracer;
  readonly logger?: Logger;
  readonly now?: () => Date;
  readonly clockMs?: () => number;
  readonly metrics?: Metrics;
  /** Sinks added after the built-in ones (metrics, span, log). */
  readonly sinks?: readonly UsageSink[];
}

/** Builds the services of one app from its configuration. */
export function createServices(config: Config, overrides: ServiceOverrides = {}): Services {
  const now = overrides.now ?? (() => new Date());
  const budgets = overrides.budgets ??
    (config.budgetStore === "redis" && config.redisUrl
      ? createRedisBudgetStore({ url: config.redisUrl })
      : createMemoryBudgetStore());
  const metrics = overrides.metrics ??
    createMetrics({ prices: config.prices, tenants: config.tenants, budgets, now });
  const backend = overrides.backend ?? createSimulatedBackend({
    ...config.sim,
    countTokens: (model, text) => counterFor(config.prices.resolve(model)).count(text),
  });
  const logger = overrides.logger ?? createLogger(config.logLevel);
  return {
    config,
    prices: config.prices,
    budgets,
    metrics,
    backend,
    tracer: overrides.tracer ?? trace.getTracer(config.serviceName),
    logger,
    sinks: [
      metricsSink(metrics),
      spanSink(config.prices.version),
      logSink(logger),
      ...overrides.sinks ?? [],
    ],
    traceContent: config.traceContent,
    now,
    clockMs: overrides.clockMs ?? (() => performance.now()),
    limits: createLimits(config.maxConcurrentRequests),
  };
}
