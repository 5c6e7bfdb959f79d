/**
 * The live page's snapshot: spend and counts for the calendar hour, day and month (UTC) that
 * contain "now", in total, per tenant and per model, and the newest requests. {@link LiveData} is
 * what the page needs from a store; the spend ledger answers it across restarts and replicas, and
 * {@link createMemoryLiveData} answers it from this process's own events.
 */
import { windowAt } from "../budgets/windows.ts";
import { BUDGET_WINDOWS, type BudgetWindow } from "../tenants/tenants.ts";
import type { LiveEvent, LiveTokens } from "./event.ts";

/** Sums over a set of requests. */
export interface LiveTotals {
  readonly costPico: bigint;
  /** Every finished request, refused and failed ones included. */
  readonly requests: number;
  /** Requests that ended in an error other than a budget refusal. */
  readonly errors: number;
  /** Requests that reached a model without a price. */
  readonly unpriced: number;
  /** Requests refused with `budget_exceeded`. */
  readonly budgetRefusals: number;
  readonly tokens: LiveTokens;
}

/** One calendar window's totals. */
export interface LiveWindow {
  readonly start: Date;
  readonly end: Date;
  readonly total: LiveTotals;
  /** Tenants with at least one request in the window. */
  readonly tenants: ReadonlyMap<string, LiveTotals>;
  /** Models with at least one request in the window. */
  readonly models: ReadonlyMap<string, LiveTotals>;
}

/** What the page shows when it (re)connects. */
export interface LiveSummary {
  readonly windows: Readonly<Record<BudgetWindow, LiveWindow>>;
  /** The newest requests, newest first. */
  readonly recent: readonly LiveEvent[];
}

/** A query for {@link LiveData.summary}. */
export interface SummaryQuery {
  readonly now: Date;
  /** Only this tenant's requests; all tenants when absent. */
  readonly tenant?: string;
  /** How many recent requests to return. */
  readonly recentLimit: number;
}

/** The store behind the page's snapshot. */
export interface LiveData {
  summary(query: SummaryQuery): Promise<LiveSummary>;
}

/** The in-memory store: also fed each event, before it is published. */
export interface MemoryLiveData extends LiveData {
  add(event: LiveEvent): void;
}

/** All-zero totals. */
export const ZERO_TOTALS: LiveTotals = {
  costPico: 0n,
  requests: 0,
  errors: 0,
  unpriced: 0,
  budgetRefusals: 0,
  tokens: { input: 0, cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0 },
};

/** `totals` with one more request. */
export function addEvent(totals: LiveTotals, event: LiveEvent): LiveTotals {
  const t = totals.tokens;
  const e = event.tokens;
  return {
    costPico: totals.costPico + (event.costPico ?? 0n),
    requests: totals.requests + 1,
    errors: totals.errors + (isError(event.status) ? 1 : 0),
    unpriced: totals.unpriced + (event.unpriced ? 1 : 0),
    budgetRefusals: totals.budgetRefusals + (event.status === "budget_exceeded" ? 1 : 0),
    tokens: {
      input: t.input + e.input,
      cachedInput: t.cachedInput + e.cachedInput,
      cacheWrite: t.cacheWrite + e.cacheWrite,
      output: t.output + e.output,
      reasoning: t.reasoning + e.reasoning,
    },
  };
}

/** The sum of two totals. */
export function sumTotals(a: LiveTotals, b: LiveTotals): LiveTotals {
  return {
    costPico: a.costPico + b.costPico,
    requests: a.requests + b.requests,
    errors: a.errors + b.errors,
    unpriced: a.unpriced + b.unpriced,
    budgetRefusals: a.budgetRefusals + b.budgetRefusals,
    tokens: {
      input: a.tokens.input + b.tokens.input,
      cachedInput: a.tokens.cachedInput + b.tokens.cachedInput,
      cacheWrite: a.tokens.cacheWrite + b.tokens.cacheWrite,
      output: a.tokens.output + b.tokens.output,
      reasoning: a.tokens.reasoning + b.tokens.reasoning,
    },
  };
}

/** True for a status the page counts as an error: anything but success and a budget refusal. */
export function isError(status: string): boolean {
  return status !== "ok" && status !== "budget_exceeded";
}

/** The calendar window (UTC) of kind `window` containing `now`. */
export function windowBounds(window: BudgetWindow, now: Date): { start: Date; end: Date } {
  const end = windowAt(window, now).resetsAt;
  const start = window === "hour"
    ? new Date(end.getTime() - 3_600_000)
    : window === "day"
    ? new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()))
    : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  return { start, end };
}

/** Builds one window's totals from per tenant × model cells. */
export function windowFromCells(
  bounds: { start: Date; end: Date },
  cells: Iterable<{ tenant: string; model: string; totals: LiveTotals }>,
): LiveWindow {
  let total = ZERO_TOTALS;
  const tenants = new Map<string, LiveTotals>();
  const models = new Map<string, LiveTotals>();
  for (const { tenant, model, totals } of cells) {
    total = sumTotals(total, totals);
    tenants.set(tenant, sumTotals(tenants.get(tenant) ?? ZERO_TOTALS, totals));
    models.set(model, sumTotals(models.get(model) ?? ZERO_TOTALS, totals));
  }
  return { ...bounds, total, tenants, models };
}

/** Options of {@link createMemoryLiveData}. */
export interface MemoryLiveDataOptions {
  /** Recent events kept, in all and per tenant (default 50). */
  readonly recentSize?: number;
}

/**
 * The store of this process's own events: totals per tenant × model for the current hour, day
 * and month, and the newest events. Its memory is bounded by tenants × models; it starts empty at
 * each start-up.
 */
export function createMemoryLiveData(options: MemoryLiveDataOptions = {}): MemoryLiveData {
  const recentSize = options.recentSize ?? 50;
  // Newest first: all tenants together, and each tenant's own (tenants are a bounded set).
  const recent: LiveEvent[] = [];
  const recentByTenant = new Map<string, LiveEvent[]>();
  const windows = new Map<BudgetWindow, { start: number; cells: Map<string, Cell> }>();

  return {
    add(event) {
      let own = recentByTenant.get(event.tenant);
      if (!own) recentByTenant.set(event.tenant, own = []);
      for (const list of [recent, own]) {
        list.unshift(event);
        if (list.length > recentSize) list.pop();
      }
      for (const window of BUDGET_WINDOWS) {
        const start = windowBounds(window, event.time).start.getTime();
        let held = windows.get(window);
        // A later window replaces the held one; an event of an earlier window is past history.
        if (!held || start > held.start) windows.set(window, held = { start, cells: new Map() });
        if (start < held.start) continue;
        const key = `${event.tenant}\u0000${event.model}`;
        const cell = held.cells.get(key) ??
          { tenant: event.tenant, model: event.model, totals: ZERO_TOTALS };
        cell.totals = addEvent(cell.totals, event);
        held.cells.set(key, cell);
      }
    },
    summary({ now, tenant, recentLimit }) {
      const result = {} as Record<BudgetWindow, LiveWindow>;
      for (const window of BUDGET_WINDOWS) {
        const bounds = windowBounds(window, now);
        const held = windows.get(window);
        const cells = held && held.start === bounds.start.getTime() ? [...held.cells.values()] : [];
        result[window] = windowFromCells(
          bounds,
          cells.filter((c) => tenant === undefined || c.tenant === tenant),
        );
      }
      return Promise.resolve({
        windows: result,
        recent: (tenant === undefined ? recent : recentByTenant.get(tenant) ?? []).slice(
          0,
          recentLimit,
        ),
      });
    },
  };
}

interface Cell {
  readonly tenant: string;
  readonly model: string;
  totals: LiveTotals;
}
