/**
 * The JSON the page's endpoints send: snake_case like every other body of this server, costs as
 * an exact decimal JSON number (`cost_usd`, every digit of the picodollar amount, never a rounded
 * double) beside the integer picodollars as a string (`cost_pico`), which the page sums exactly.
 */
import { formatUsd, parseUsdPico } from "../pricing/money.ts";
import {
  BUDGET_WINDOWS,
  type BudgetWindow,
  type Tenant,
  type TenantDirectory,
} from "../tenants/tenants.ts";
import { type LiveSummary, type LiveTotals, type LiveWindow, ZERO_TOTALS } from "./data.ts";
import type { LiveEvent } from "./event.ts";

// `JSON.rawJSON` (V8, Deno 2) emits a number token verbatim; the bundled TypeScript lib lacks it.
const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** An exact USD amount as a JSON number token, or null. */
export function usdJson(pico: bigint | null): unknown {
  return pico === null ? null : rawJson(formatUsd(pico));
}

const TRACE_ID = /^[0-9a-f]{32}$/;

/** The link to a trace in the Jaeger UI, when one is configured and the id is a trace id. */
export function traceUrl(jaegerUiUrl: string | undefined, traceId: string | undefined) {
  if (!jaegerUiUrl || !traceId || !TRACE_ID.test(traceId)) return null;
  return `${jaegerUiUrl.replace(/\/+$/, "")}/trace/${traceId}`;
}

/** One request as JSON. */
export function eventToWire(event: LiveEvent, jaegerUiUrl?: string) {
  return {
    time: event.time.toISOString(),
    request_id: event.requestId,
    tenant: event.tenant,
    model: event.model,
    route: event.route,
    tokens: tokensToWire(event.tokens),
    cost_usd: usdJson(event.costPico),
    cost_pico: event.costPico === null ? null : event.costPico.toString(),
    status: event.status,
    unpriced: event.unpriced,
    usage_source: event.usageSource,
    trace_id: event.traceId ?? null,
    trace_url: traceUrl(jaegerUiUrl, event.traceId),
    error_type: event.errorType ?? null,
  };
}

function tokensToWire(tokens: LiveEvent["tokens"]) {
  return {
    input: tokens.input,
    cached_input: tokens.cachedInput,
    cache_write: tokens.cacheWrite,
    output: tokens.output,
    reasoning: tokens.reasoning,
  };
}

/** Totals as JSON. */
export function totalsToWire(totals: LiveTotals) {
  return {
    cost_usd: usdJson(totals.costPico),
    cost_pico: totals.costPico.toString(),
    requests: totals.requests,
    errors: totals.errors,
    unpriced: totals.unpriced,
    budget_refusals: totals.budgetRefusals,
    tokens: tokensToWire(totals.tokens),
  };
}

/** A tenant's limits in one window: the hourly alert threshold (hour only) and the budget. */
export interface TenantLimits {
  readonly alertPico: bigint | null;
  readonly budgetPico: bigint | null;
}

/** The limits that apply to `tenant` in `window`. A zero threshold means none. */
export function limitsOf(tenant: Tenant, window: BudgetWindow): TenantLimits {
  const alert = window === "hour" && tenant.hourlyAlertThresholdUsd > 0
    ? parseUsdPico(tenant.hourlyAlertThresholdUsd)
    : null;
  return { alertPico: alert, budgetPico: tenant.budgetsPico[window] ?? null };
}

function limitsToWire(limits: TenantLimits) {
  return {
    alert_threshold_usd: usdJson(limits.alertPico),
    alert_threshold_pico: limits.alertPico?.toString() ?? null,
    budget_usd: usdJson(limits.budgetPico),
    budget_pico: limits.budgetPico?.toString() ?? null,
  };
}

/** Who the summary is for and where tenants' limits come from. */
export interface SummaryScope {
  /** Only this tenant; all when absent. */
  readonly tenant?: string;
  /** Configured tenants are listed even without requests; unknown ids have `other`'s limits. */
  readonly directory: TenantDirectory;
  readonly jaegerUiUrl?: string;
}

/** The tenants a window lists: every configured one in scope, then any other with requests. */
export function tenantRows(window: LiveWindow, kind: BudgetWindow, scope: SummaryScope) {
  const ids = scope.tenant !== undefined
    ? [scope.tenant]
    : [...new Set([...scope.directory.tenants.map((t) => t.id), ...window.tenants.keys()])];
  return ids.map((id) => ({
    tenant: id,
    totals: window.tenants.get(id) ?? ZERO_TOTALS,
    limits: limitsOf(scope.directory.byRequestedId(id), kind),
  }));
}

/** The models of a window, dearest first. */
export function modelRows(window: LiveWindow) {
  return [...window.models.entries()]
    .map(([model, totals]) => ({ model, totals }))
    .sort((a, b) =>
      a.totals.costPico === b.totals.costPico
        ? a.model.localeCompare(b.model)
        : a.totals.costPico > b.totals.costPico
        ? -1
        : 1
    );
}

/** The whole snapshot as JSON. */
export function summaryToWire(summary: LiveSummary, now: Date, scope: SummaryScope) {
  const windows = Object.fromEntries(BUDGET_WINDOWS.map((kind) => {
    const window = summary.windows[kind];
    return [kind, {
      start: window.start.toISOString(),
      end: window.end.toISOString(),
      total: totalsToWire(window.total),
      tenants: tenantRows(window, kind, scope).map(({ tenant, totals, limits }) => ({
        tenant,
        ...totalsToWire(totals),
        ...limitsToWire(limits),
      })),
      models: modelRows(window).map(({ model, totals }) => ({ model, ...totalsToWire(totals) })),
      // For a tenant that first appears in a live event: every unlisted id is billed as `other`.
      other_limits: limitsToWire(limitsOf(scope.directory.other, kind)),
    }];
  }));
  return {
    currency: "USD",
    now: now.toISOString(),
    tenant: scope.tenant ?? null,
    windows,
    recent: summary.recent.map((e) => eventToWire(e, scope.jaegerUiUrl)),
  };
}
