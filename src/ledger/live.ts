/**
 * The live page's snapshot read from the ledger: for the calendar hour, day and month (UTC) that
 * contain "now", the spend, counts and tokens of each tenant × model, and the newest requests.
 * The counting rules are those of the page's in-memory store (src/live/data.ts), so a snapshot
 * taken after a restart shows what the live events showed before it.
 */
import { BUDGET_WINDOWS, type BudgetWindow } from "../tenants/tenants.ts";
import {
  type LiveSummary,
  type LiveTotals,
  type LiveWindow,
  type SummaryQuery,
  windowBounds,
  windowFromCells,
} from "../live/data.ts";
import type { LiveEvent } from "../live/event.ts";
import { costSum, placeholders, readCostSum } from "./queries.ts";
import { COLUMNS, decodeRow, type SqlValue } from "./schema.ts";
import { isRefused, type LedgerRow } from "./row.ts";
import type { SqlDb } from "./sqlite.ts";

/** The page's errors: every status but success and a budget refusal (src/live/data.ts isError). */
const ERROR_SQL = "status NOT IN ('ok', 'budget_exceeded')";

const count = (v: unknown): number => v === null || v === undefined ? 0 : Number(v);

/** The snapshot of `query`: three window aggregates and the newest rows, all read by `db`. */
export async function liveSummary(db: SqlDb, query: SummaryQuery): Promise<LiveSummary> {
  const [windows, recent] = await Promise.all([
    Promise.all(BUDGET_WINDOWS.map((window) => liveWindow(db, window, query))),
    recentEvents(db, query),
  ]);
  return {
    windows: Object.fromEntries(BUDGET_WINDOWS.map((w, i) => [w, windows[i]])) as Record<
      BudgetWindow,
      LiveWindow
    >,
    recent,
  };
}

async function liveWindow(db: SqlDb, window: BudgetWindow, query: SummaryQuery) {
  const bounds = windowBounds(window, query.now);
  const params: SqlValue[] = [bounds.start.getTime(), bounds.end.getTime()];
  let where = "ts >= ? AND ts < ?";
  if (query.tenant !== undefined) {
    where += " AND tenant = ?";
    params.push(query.tenant);
  }
  const sql = `SELECT tenant, model, ${costSum(db.dialect, "cost_pico", "cost")},
      COUNT(*) AS requests,
      SUM(CASE WHEN ${ERROR_SQL} THEN 1 ELSE 0 END) AS errors,
      SUM(unpriced) AS unpriced,
      SUM(CASE WHEN status = 'budget_exceeded' THEN 1 ELSE 0 END) AS refusals,
      SUM(input_tokens) AS input_tokens,
      SUM(cached_input_tokens) AS cached_input_tokens,
      SUM(cache_write_5m_tokens + cache_write_1h_tokens) AS cache_write_tokens,
      SUM(output_tokens) AS output_tokens,
      SUM(reasoning_tokens) AS reasoning_tokens
    FROM ledger WHERE ${where} GROUP BY tenant, model`;
  const rows = await db.query(placeholders(db.dialect, sql), params);
  return windowFromCells(
    bounds,
    rows.map((row) => ({
      tenant: String(row.tenant),
      model: String(row.model),
      totals: {
        costPico: readCostSum(db.dialect, row, "cost"),
        requests: count(row.requests),
        errors: count(row.errors),
        unpriced: count(row.unpriced),
        budgetRefusals: count(row.refusals),
        tokens: {
          input: count(row.input_tokens),
          cachedInput: count(row.cached_input_tokens),
          cacheWrite: count(row.cache_write_tokens),
          output: count(row.output_tokens),
          reasoning: count(row.reasoning_tokens),
        },
      } satisfies LiveTotals,
    })),
  );
}

async function recentEvents(db: SqlDb, query: SummaryQuery): Promise<LiveEvent[]> {
  const params: SqlValue[] = [];
  let where = "";
  if (query.tenant !== undefined) {
    where = "WHERE tenant = ? ";
    params.push(query.tenant);
  }
  params.push(query.recentLimit);
  const sql = `SELECT ${COLUMNS.join(", ")} FROM ledger ${where}` +
    "ORDER BY ts DESC, request_id DESC LIMIT ?";
  const rows = await db.values(placeholders(db.dialect, sql), params);
  return rows.map((values) => liveEventOfRow(decodeRow(values)));
}

/** A ledger row as the page's event: the fields the live sink took from the usage record. */
export function liveEventOfRow(row: LedgerRow): LiveEvent {
  return {
    time: new Date(row.ts),
    requestId: row.requestId,
    tenant: row.tenant,
    model: row.model,
    route: row.route,
    tokens: {
      input: row.inputTokens,
      cachedInput: row.cachedInputTokens,
      cacheWrite: row.cacheWrite5mTokens + row.cacheWrite1hTokens,
      output: row.outputTokens,
      reasoning: row.reasoningTokens,
    },
    // A refusal's record has no cost (null); its row stores 0 so that sums need no special case.
    costPico: isRefused(row.status) ? null : row.costPico,
    status: row.status,
    unpriced: row.unpriced,
    usageSource: row.usageSource,
    traceId: row.traceId ?? undefined,
    errorType: row.errorType ?? undefined,
  };
}
