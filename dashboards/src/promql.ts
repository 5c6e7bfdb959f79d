/**
 * The PromQL the dashboards share. Metric names come from src/telemetry/names.ts, so a renamed
 * metric renames its panels too. Every app series is selected by the scrape job, and every
 * aggregation drops `job` and `instance`, so two app replicas add up instead of drawing twice.
 */
import { METRIC } from "../../src/telemetry/names.ts";

export { METRIC };

/** The Prometheus job that scrapes the app (stack/prometheus/prometheus.yml). */
export const APP_JOB = "inference-cost-tracker";

/** Grafana's rate window: at least four scrape intervals, whatever the zoom. */
export const RATE_INTERVAL = "$__rate_interval";

/** `metric{job="inference-cost-tracker", ...matchers}`. */
export function app(metric: string, ...matchers: string[]): string {
  return `${metric}{${[`job="${APP_JOB}"`, ...matchers].join(", ")}}`;
}

/** USD spent in the trailing `window` (`1h`, `1d`, `30d`), summed over whatever `by` keeps. */
export function spendOver(window: string, by: readonly string[], ...matchers: string[]): string {
  const grouping = by.length > 0 ? ` by (${by.join(", ")})` : "";
  return `sum${grouping} (increase(${app(METRIC.costUsdTotal, ...matchers)}[${window}]))`;
}

/**
 * Recording rules of alerts/recording.rules.yml. Where an alert watches a quantity, its panel
 * reads the same recorded series, so the panel and the alert cannot disagree. They are already
 * summed over replicas and carry no `job` label; rates are USD per second.
 */
export const RULE = {
  costRate5mByTenant: "tenant:inference_cost_usd:rate5m",
  costRate30mByTenant: "tenant:inference_cost_usd:rate30m",
  costRate1hByTenant: "tenant:inference_cost_usd:rate1h",
  /** The day's average of the 1h rate: a tenant's own baseline (InferenceSpendAnomaly). */
  costRate1hAvg1dByTenant: "tenant:inference_cost_usd:rate1h_avg1d",
  costRate5mByTenantModel: "tenant_model:inference_cost_usd:rate5m",
  costRate1hByTenantModel: "tenant_model:inference_cost_usd:rate1h",
  /** The tenant's threshold, or the `default` tenant's for tenants without one (`other`). */
  thresholdByTenant: "tenant:inference_cost_alert_threshold_usd:max_or_default",
  costPerRequestP95: "model:inference_cost_per_request_usd:p95_rate15m",
  /** Budget left per tenant and window, never below zero (alerts/budget.rules.yml). */
  budgetRemaining: "tenant_window:inference_budget_remaining_usd:max",
  /** Seconds until each calendar window (UTC) starts over, labelled `window`. */
  budgetResetSeconds: "window:inference_budget_reset_seconds:remaining",
  /** Seconds until the budget is spent at the burn of the last 5 minutes, hour, 6 hours. */
  budgetExhaustion5m: "tenant_window:inference_budget_exhaustion_seconds:rate5m",
  budgetExhaustion1h: "tenant_window:inference_budget_exhaustion_seconds:rate1h",
  budgetExhaustion6h: "tenant_window:inference_budget_exhaustion_seconds:rate6h",
  /** Failed share of the requests that reached a provider, per model (alerts/upstream.rules.yml). */
  upstreamFailureRatio: "model:inference_upstream_failure_ratio:rate5m",
  /** USD the spend ledger recorded in the last hour, per replica (alerts/ledger.rules.yml). */
  ledgerCost1hByInstance: "instance:inference_ledger_cost_usd:increase1h",
  /** USD counted by the metrics but missing from the ledger in the last hour, per replica. */
  ledgerGap1hByInstance: "instance:inference_ledger_cost_gap_usd:increase1h",
} as const;

/** `series{matchers}`, or the bare name without matchers. */
export function selector(series: string, matchers: readonly string[]): string {
  return matchers.length > 0 ? `${series}{${matchers.join(", ")}}` : series;
}

/** A recorded rate (USD per second) as USD per hour, summed over what `by` keeps. */
export function recordedPerHour(
  rule: string,
  by: readonly string[],
  ...matchers: string[]
): string {
  const grouping = by.length > 0 ? ` by (${by.join(", ")})` : "";
  return `sum${grouping} (${selector(rule, matchers)}) * 3600`;
}

/**
 * Each tenant's hourly burn over the trailing hour (the recorded 1h rate × 3600): the quantity
 * the InferenceCostHigh alert compares with the tenant's threshold.
 */
export function hourlyBurnByTenant(...matchers: string[]): string {
  return `${selector(RULE.costRate1hByTenant, matchers)} * 3600`;
}

/** Each tenant's hourly alert threshold, falling back to the `default` tenant's. */
export function thresholdByTenant(...matchers: string[]): string {
  return selector(RULE.thresholdByTenant, matchers);
}

/** The p95 cost per request per model over 15 minutes: what InferenceCostPerRequestSpike watches. */
export function alertedCostPerRequestP95(...matchers: string[]): string {
  return selector(RULE.costPerRequestP95, matchers);
}

/** The `q` quantile of the cost of one request, per model, over Grafana's rate window. */
export function costPerRequestQuantile(q: number, ...matchers: string[]): string {
  return `histogram_quantile(${q}, sum by (model, le) (rate(${
    app(`${METRIC.costPerRequestUsd}_bucket`, ...matchers)
  }[${RATE_INTERVAL}])))`;
}

/** The budget limit per tenant and window (max: replicas sharing a store report the same). */
export function budgetLimit(...matchers: string[]): string {
  return `max by (tenant, window) (${app(METRIC.budgetLimitUsd, ...matchers)})`;
}

/** The spend per tenant in its current budget window. */
export function budgetSpent(...matchers: string[]): string {
  return `max by (tenant, window) (${app(METRIC.budgetSpentUsd, ...matchers)})`;
}
