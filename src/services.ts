/**
 * The parts an app is built from. `main.ts` wires the real ones; tests build fresh ones with
 * `createServices()` and override what they need (a tracer with an in-memory exporter, a clock,
 * their own ledger).
 */
import { trace, type Tracer } from "@opentelemetry/api";
import { type Config, ConfigError } from "./config.ts";
import type { Backend } from "./backends/types.ts";
import { createSimulatedBackend } from "./backends/simulated.ts";
import type { BudgetStore } from "./budgets/store.ts";
import { createMemoryBudgetStore } from "./budgets/memory.ts";
import { createRedisBudgetStore } from "./budgets/redis.ts";
import { createMetrics, type Metrics, registerLedgerMetrics } from "./telemetry/metrics.ts";
import { createLogger, type Logger } from "./log.ts";
import { counterFor } from "./usage/counting.ts";
import type { CallServices } from "./usage/call.ts";
import type { UsageSink } from "./usage/sinks/sink.ts";
import { metricsSink } from "./usage/sinks/metrics.ts";
import { spanSink } from "./usage/sinks/span.ts";
import { logSink } from "./usage/sinks/log.ts";
import { ledgerSink } from "./usage/sinks/ledger.ts";
import { liveSink } from "./usage/sinks/live.ts";
import { inOrder } from "./usage/sinks/sink.ts";
import { createLimits, type Limits } from "./limits.ts";
import { type Ledger, openLedger } from "./ledger/ledger.ts";
import { createLiveHub, type LiveHub } from "./live/hub.ts";
import { createMemoryLiveData, type LiveData } from "./live/data.ts";

/** Everything the routes use. */
export interface Services extends CallServices {
  readonly config: Config;
  readonly backend: Backend;
  readonly limits: Limits;
  /** The spend ledger; null when it is off (LEDGER_URL=none). */
  readonly ledger: Ledger | null;
  /** The live page: where finished requests are published, and the store its snapshots read. */
  readonly live: { readonly hub: LiveHub; readonly data: LiveData };
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
  /** Sinks added after the built-in ones (metrics, span, log, ledger and live page). */
  readonly sinks?: readonly UsageSink[];
  /** This ledger instead of the one LEDGER_URL names (null: none); the caller closes it. */
  readonly ledger?: Ledger | null;
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
  const ledger = overrides.ledger !== undefined
    ? overrides.ledger
    : openConfiguredLedger(config, metrics, logger);
  const hub = createLiveHub();
  // With the ledger off, the page's totals are this process's own, kept in memory.
  const memory = ledger ? undefined : createMemoryLiveData();
  const live = liveSink(hub, memory);
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
      ledger ? inOrder(ledgerSink(ledger, config.prices.version), live) : live,
      ...overrides.sinks ?? [],
    ],
    traceContent: config.traceContent,
    now,
    clockMs: overrides.clockMs ?? (() => performance.now()),
    limits: createLimits(config.maxConcurrentRequests),
    ledger,
    live: { hub, data: ledger ?? memory! },
  };
}

/** Opens the ledger LEDGER_URL names; an unusable one stops start-up with a configuration error. */
function openConfiguredLedger(config: Config, metrics: Metrics, logger: Logger): Ledger | null {
  try {
    return openLedger(config.ledger, {
      metrics: config.ledger.kind === "none" ? undefined : registerLedgerMetrics(metrics.registry),
      logger,
      retentionDays: config.ledgerRetentionDays,
    });
  } catch (error) {
    throw new ConfigError(
      `LEDGER_URL: cannot open the ledger: ${error instanceof Error ? error.message : error}`,
    );
  }
}

/**
 * Starts the budgets from the ledger's spend in the current hour, day and month, so a restart
 * never refills a budget: the memory store takes the ledger's spend; a Redis that lost its data
 * is rebuilt from it, and one that kept it is left as it is (see `BudgetStore.seed`). Resolves to
 * the number of tenants the ledger had spend for, or null when there is no ledger.
 */
export async function restoreBudgets(services: Services): Promise<number | null> {
  if (!services.ledger) return null;
  const now = services.now();
  const spend = await services.ledger.windowSpend(now.getTime());
  await services.budgets.seed(spend, now);
  return spend.size;
}
