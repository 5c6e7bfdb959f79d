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

/** Everything the routes use. */
export interface Services extends CallServices {
  readonly config: Config;
  readonly backend: Backend;
  readonly admission: Admission;
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
}

/** Concurrency and per-tenant rate limits, decided before any work is done. */
export interface Admission {
  /** Takes a slot; false when MAX_CONCURRENT_REQUESTS are already in flight. */
  enter(): boolean;
  leave(): void;
  /** Counts a request against the tenant's per-minute limit; false when over it. */
  allowRate(tenantId: string, perMinute: number | undefined, nowMs: number): boolean;
}

function createAdmission(maxConcurrent: number): Admission {
  let inFlight = 0;
  const windows = new Map<string, { minute: number; count: number }>();
  return {
    enter() {
      if (inFlight >= maxConcurrent) return false;
      inFlight++;
      return true;
    },
    leave() {
      inFlight--;
    },
    allowRate(tenantId, perMinute, nowMs) {
      if (perMinute === undefined) return true;
      const minute = Math.floor(nowMs / 60_000);
      const w = windows.get(tenantId);
      if (!w || w.minute !== minute) {
        windows.set(tenantId, { minute, count: 1 });
        return true;
      }
      if (w.count >= perMinute) return false;
      w.count++;
      return true;
    },
  };
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
  return {
    config,
    prices: config.prices,
    budgets,
    metrics,
    backend,
    tracer: overrides.tracer ?? trace.getTracer(config.serviceName),
    logger: overrides.logger ?? createLogger(config.logLevel),
    now,
    clockMs: overrides.clockMs ?? (() => performance.now()),
    admission: createAdmission(config.maxConcurrentRequests),
  };
}
