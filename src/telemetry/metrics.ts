/**
 * Every Prometheus metric the server exports, on one registry built per app (never a global, so a
 * reload or a test cannot register a metric twice). It is an OpenMetrics registry, the only kind
 * prom-client allows exemplars in; exposition.ts renders it in both formats. Label objects given
 * to a metric are never changed afterwards: the renderer caches each series' line by them.
 */
import client from "prom-client";
import type { PriceTable } from "../pricing/pricing.ts";
import type { TenantDirectory } from "../tenants/tenants.ts";
import { BUDGET_WINDOWS } from "../tenants/tenants.ts";
import type { BudgetStore } from "../budgets/store.ts";
import { formatUsd } from "../pricing/money.ts";
import {
  COST_BUCKETS,
  DURATION_BUCKETS,
  METRIC,
  type RequestStatus,
  TTFT_BUCKETS,
  type UpstreamErrorKind,
} from "./names.ts";
import { registerProcessMetrics } from "./process_metrics.ts";

/** What the metrics need to know about the app. */
export interface MetricsDeps {
  readonly prices: PriceTable;
  readonly tenants: TenantDirectory;
  readonly budgets: BudgetStore;
  readonly now: () => Date;
}

/** The app's metrics. Label values are always from closed sets (priced ids, configured tenants). */
export interface Metrics {
  readonly registry: client.Registry<client.OpenMetricsContentType>;
  readonly costUsd: client.Counter<"model" | "tenant">;
  readonly inputTokens: client.Counter<"model" | "tenant">;
  readonly outputTokens: client.Counter<"model" | "tenant">;
  readonly cachedInputTokens: client.Counter<"model" | "tenant">;
  readonly requestDuration: client.Histogram<"model">;
  readonly costPerRequest: client.Histogram<"model">;
  readonly timeToFirstToken: client.Histogram<"model">;
  readonly requests: client.Counter<"model" | "tenant" | "status">;
  readonly unpricedRequests: client.Counter<"tenant">;
  readonly upstreamErrors: client.Counter<"provider" | "kind">;
  readonly inFlight: client.Gauge<string>;
}

/** Labels of a request outcome. */
export type RequestLabels = { model: string; tenant: string; status: RequestStatus };
/** Labels of an upstream failure. */
export type UpstreamLabels = { provider: string; kind: UpstreamErrorKind };

/** Builds a fresh registry with every metric of the server. */
export function createMetrics(deps: MetricsDeps): Metrics {
  const registry = new client.Registry<client.OpenMetricsContentType>();
  registry.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);
  // prom-client's typings bind a metric's registers to the classic format; the runtime accepts
  // (and for exemplars requires) an OpenMetrics registry.
  const registers = [registry as unknown as client.Registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new client.Counter<L>({ name, help, labelNames, registers });
  const histogram = (name: string, help: string, buckets: number[], exemplars: boolean) =>
    new client.Histogram<"model">({
      name,
      help,
      labelNames: ["model"],
      buckets,
      enableExemplars: exemplars,
      registers,
    });
  const byModelTenant = ["model", "tenant"] as const;
  const costUsd = counter(METRIC.costUsdTotal, "Cumulative inference cost in USD", byModelTenant);
  const inputTokens = counter(
    METRIC.inputTokensTotal,
    "Total input tokens processed, cached ones included",
    byModelTenant,
  );
  const outputTokens = counter(
    METRIC.outputTokensTotal,
    "Total output tokens generated, reasoning tokens included",
    byModelTenant,
  );
  const cachedInputTokens = counter(
    METRIC.cachedInputTokensTotal,
    "Input tokens read from the provider's prompt cache (a part of the input tokens)",
    byModelTenant,
  );
  const requestDuration = histogram(
    METRIC.requestDurationSeconds,
    "End-to-end inference latency",
    DURATION_BUCKETS,
    true,
  );
  const costPerRequest = histogram(
    METRIC.costPerRequestUsd,
    "Cost distribution per individual request",
    COST_BUCKETS,
    true,
  );
  const timeToFirstToken = histogram(
    METRIC.timeToFirstTokenSeconds,
    "Time from request start to the first streamed content, streamed requests only",
    TTFT_BUCKETS,
    false,
  );
  const requests = counter(METRIC.requestsTotal, "Inference requests by outcome", [
    "model",
    "tenant",
    "status",
  ]);
  const unpricedRequests = counter(
    METRIC.unpricedRequestsTotal,
    "Requests served for a model with no price (UNPRICED_POLICY=allow); their cost is unknown",
    ["tenant"],
  );
  const upstreamErrors = counter(
    METRIC.upstreamErrorsTotal,
    "Failed calls to upstream providers by kind",
    ["provider", "kind"],
  );
  const inFlight = new client.Gauge({
    name: METRIC.inFlightRequests,
    help: "Inference requests being served now",
    registers,
  });

  const threshold = new client.Gauge({
    name: METRIC.costAlertThresholdUsd,
    help: "Current cost alert threshold per tenant per hour",
    labelNames: ["tenant"] as const,
    registers,
  });
  for (const tenant of deps.tenants.tenants) {
    threshold.set({ tenant: tenant.id }, tenant.hourlyAlertThresholdUsd);
  }

  new client.Gauge({
    name: METRIC.pricingInfo,
    help: "The price table in use; always 1",
    labelNames: ["version"] as const,
    registers,
  }).set({ version: deps.prices.version }, 1);
  // The table's age is time() minus this; InferencePricingStale warns when prices may be outdated.
  new client.Gauge({
    name: METRIC.pricingEffectiveTimestampSeconds,
    help: "Effective date (00:00 UTC) of the price table in use, in Unix seconds",
    registers,
  }).set(deps.prices.effectiveTimestampSeconds);

  const budgetLimit = new client.Gauge({
    name: METRIC.budgetLimitUsd,
    help: "Hard budget per tenant and calendar window (UTC)",
    labelNames: ["tenant", "window"] as const,
    registers,
  });
  // Every tenant a request can be billed as: the configured ones and `other`.
  const billable = [...deps.tenants.tenants, deps.tenants.other];
  const budgetedTenants = billable.filter((t) => Object.keys(t.budgetsPico).length > 0);
  for (const tenant of budgetedTenants) {
    for (const window of BUDGET_WINDOWS) {
      const limit = tenant.budgetsPico[window];
      if (limit !== undefined) {
        budgetLimit.set({ tenant: tenant.id, window }, Number(formatUsd(limit)));
      }
    }
  }
  new client.Gauge({
    name: METRIC.budgetSpentUsd,
    help: "Spend (settled plus reserved) per tenant in the current calendar window (UTC)",
    labelNames: ["tenant", "window"] as const,
    registers,
    async collect() {
      const now = deps.now();
      const labels = budgetedTenants.flatMap((tenant) =>
        BUDGET_WINDOWS.filter((window) => tenant.budgetsPico[window] !== undefined)
          .map((window) => ({ tenant: tenant.id, window }))
      );
      // Read in parallel, and drop a series whose store read failed (Redis down) instead of
      // failing the scrape: a failed /metrics would blank every other metric with it.
      const spent = await Promise.allSettled(
        labels.map((l) => deps.budgets.spent(l.tenant, l.window, now)),
      );
      spent.forEach((result, i) => {
        if (result.status === "fulfilled") this.set(labels[i], Number(formatUsd(result.value)));
        else this.remove(labels[i]);
      });
    },
  });

  // Start every billable tenant × priced model cost and token series at zero. A counter whose first scrape
  // already holds a request's cost hides that cost from rate()/increase(): Prometheus has no
  // earlier sample to compare with, so a tenant's first expensive burst would be invisible to
  // the cost alerts.
  for (const tenant of billable) {
    for (const model of deps.prices.models.keys()) {
      const labels = { model, tenant: tenant.id };
      for (const c of [costUsd, inputTokens, outputTokens, cachedInputTokens]) c.inc(labels, 0);
    }
  }

  registerProcessMetrics(registers[0]);

  return {
    registry,
    costUsd,
    inputTokens,
    outputTokens,
    cachedInputTokens,
    requestDuration,
    costPerRequest,
    timeToFirstToken,
    requests,
    unpricedRequests,
    upstreamErrors,
    inFlight,
  };
}

/** The spend ledger's metrics, registered only when the ledger is on. */
export interface LedgerMetrics {
  /** Rows newly committed (a replayed request id is not counted twice). */
  readonly rowsWritten: client.Counter<string>;
  /** Cost of the rows newly committed: reconciled against `inference_cost_usd_total`. */
  readonly costUsd: client.Counter<string>;
  /** Rows whose append failed: their requests are missing from the ledger. */
  readonly writeErrors: client.Counter<string>;
  /** Rows committed to the local outbox but not yet shipped to PostgreSQL (0 for SQLite). */
  readonly outboxBacklog: client.Gauge<string>;
  /** Rows shipped from the outbox to PostgreSQL: with the backlog, tells busy from stuck. */
  readonly rowsShipped: client.Counter<string>;
}

/** Registers the ledger's metrics on an app's registry. */
export function registerLedgerMetrics(
  registry: client.Registry<client.OpenMetricsContentType>,
): LedgerMetrics {
  const registers = [registry as unknown as client.Registry];
  return {
    rowsWritten: new client.Counter({
      name: METRIC.ledgerRowsWrittenTotal,
      help: "Requests recorded in the spend ledger (committed, replays not counted)",
      registers,
    }),
    costUsd: new client.Counter({
      name: METRIC.ledgerCostUsdTotal,
      help: "Cost in USD of the requests recorded in the spend ledger",
      registers,
    }),
    writeErrors: new client.Counter({
      name: METRIC.ledgerWriteErrorsTotal,
      help: "Requests whose spend ledger row could not be written",
      registers,
    }),
    outboxBacklog: new client.Gauge({
      name: METRIC.ledgerOutboxBacklog,
      help: "Ledger rows waiting in the local outbox to be shipped to PostgreSQL",
      registers,
    }),
    rowsShipped: new client.Counter({
      name: METRIC.ledgerRowsShippedTotal,
      help: "Ledger rows shipped from the local outbox to PostgreSQL",
      registers,
    }),
  };
}
