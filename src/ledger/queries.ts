/**
 * Reading the ledger, the same SQL for SQLite and PostgreSQL: spend reports, pages of records,
 * one record, ordered scans for exports, budget windows, retention.
 *
 * Sums of money are exact with no practical limit. PostgreSQL's SUM of BIGINT is NUMERIC, exact
 * at any size. SQLite's SUM of INTEGER fails past 2^63 picodollars (9.2 million USD), so there
 * each cost is summed in three parts — whole dollars, micro-dollars, picodollars below a
 * micro-dollar — that cannot overflow before 9.2e18 dollars or 9.2e12 rows, and joined in bigint.
 */
import type { BudgetWindow } from "../tenants/tenants.ts";
import type { Cursor, GroupKey, RecordsQuery, RowFilter, SpendQuery } from "./query.ts";
import { type LedgerRow, REFUSED_STATUSES } from "./row.ts";
import { COLUMNS, decodeRow, type Dialect, type SqlValue } from "./schema.ts";
import type { SqlDb } from "./sqlite.ts";

/** Counts and sums of a set of rows. */
export interface SpendTotals {
  /** Billed requests: everything but refusals. */
  readonly requests: bigint;
  /** Requests refused by a budget or rate limit. */
  readonly refusedRequests: bigint;
  /** Billed requests whose model has no price: their cost is not in `costPico`. */
  readonly unpricedRequests: bigint;
  readonly inputTokens: bigint;
  readonly cachedInputTokens: bigint;
  /** Cache writes of every duration. */
  readonly cacheWriteTokens: bigint;
  readonly outputTokens: bigint;
  readonly reasoningTokens: bigint;
  readonly costPico: bigint;
}

/** One group of a report: its key values and totals. */
export interface SpendGroup {
  /** `day` as `2026-11-25`, `hour` as `2026-11-25T14:00:00Z`; key and user may be null. */
  readonly keys: Readonly<Partial<Record<GroupKey, string | null>>>;
  readonly totals: SpendTotals;
}

/** A spend report. */
export interface SpendReport {
  readonly fromMs: number;
  readonly toMs: number;
  readonly groupBy: readonly GroupKey[];
  readonly total: SpendTotals;
  readonly groups: readonly SpendGroup[];
}

/** A page of records, newest first, and where the next page starts (null on the last). */
export interface RecordsPage {
  readonly records: readonly LedgerRow[];
  readonly next: Cursor | null;
}

/** Spend per tenant in the budget windows containing an instant. */
export type WindowSpend = ReadonlyMap<string, Readonly<Record<BudgetWindow, bigint>>>;

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const REFUSED_SQL = `status IN (${REFUSED_STATUSES.map((s) => `'${s}'`).join(", ")})`;

const GROUP_SQL: Readonly<Record<GroupKey, string>> = {
  tenant: "tenant",
  model: "model",
  day: `ts / ${DAY_MS}`,
  hour: `ts / ${HOUR_MS}`,
  key: "key_name",
  user: "end_user",
  route: "route",
};

/** `?` placeholders as the dialect writes them. */
export function placeholders(dialect: Dialect, sql: string): string {
  if (dialect === "sqlite") return sql;
  let n = 0;
  return sql.replaceAll("?", () => `$${++n}`);
}

function run(db: SqlDb, sql: string, params: SqlValue[]) {
  return db.query(placeholders(db.dialect, sql), params);
}

/** Ledger rows selected by `where` (and what follows it): every column, in COLUMNS order. */
async function selectRows(db: SqlDb, rest: string, params: SqlValue[]): Promise<LedgerRow[]> {
  const sql = `SELECT ${COLUMNS.join(", ")} FROM ledger WHERE ${rest}`;
  return (await db.values(placeholders(db.dialect, sql), params)).map(decodeRow);
}

function where(filter: RowFilter): { sql: string; params: SqlValue[] } {
  const clauses = ["ts >= ?", "ts < ?"];
  const params: SqlValue[] = [filter.fromMs, filter.toMs];
  if (filter.tenant !== undefined) {
    clauses.push("tenant = ?");
    params.push(filter.tenant);
  }
  if (filter.model !== undefined) {
    clauses.push("model = ?");
    params.push(filter.model);
  }
  return { sql: clauses.join(" AND "), params };
}

/** Select-list items summing `expr` (picodollars) exactly under `alias`. */
export function costSum(dialect: Dialect, expr: string, alias: string): string {
  if (dialect === "postgres") return `SUM(${expr}) AS ${alias}`;
  return [
    `SUM((${expr}) / 1000000000000) AS ${alias}_usd`,
    `SUM(((${expr}) / 1000000) % 1000000) AS ${alias}_micro`,
    `SUM((${expr}) % 1000000) AS ${alias}_pico`,
  ].join(", ");
}

const toBig = (v: unknown): bigint =>
  v === null || v === undefined ? 0n : BigInt(v as bigint | number | string);

/** The exact sum a {@link costSum} put under `alias` in a result row. */
export function readCostSum(dialect: Dialect, row: Record<string, unknown>, alias: string): bigint {
  if (dialect === "postgres") return toBig(row[alias]);
  return toBig(row[`${alias}_usd`]) * 1_000_000_000_000n +
    toBig(row[`${alias}_micro`]) * 1_000_000n +
    toBig(row[`${alias}_pico`]);
}

function groupValue(key: GroupKey, value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (key === "day") return new Date(Number(value) * DAY_MS).toISOString().slice(0, 10);
  if (key === "hour") {
    return new Date(Number(value) * HOUR_MS).toISOString().slice(0, 13) + ":00:00Z";
  }
  return String(value);
}

/** Sums `a` and `b` field by field. */
export function addTotals(a: SpendTotals, b: SpendTotals): SpendTotals {
  return {
    requests: a.requests + b.requests,
    refusedRequests: a.refusedRequests + b.refusedRequests,
    unpricedRequests: a.unpricedRequests + b.unpricedRequests,
    inputTokens: a.inputTokens + b.inputTokens,
    cachedInputTokens: a.cachedInputTokens + b.cachedInputTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    reasoningTokens: a.reasoningTokens + b.reasoningTokens,
    costPico: a.costPico + b.costPico,
  };
}

/** Totals of nothing. */
export const ZERO_TOTALS: SpendTotals = {
  requests: 0n,
  refusedRequests: 0n,
  unpricedRequests: 0n,
  inputTokens: 0n,
  cachedInputTokens: 0n,
  cacheWriteTokens: 0n,
  outputTokens: 0n,
  reasoningTokens: 0n,
  costPico: 0n,
};

/** The spend report for a query: one SQL aggregate, the total summed from its groups. */
export async function spendReport(db: SqlDb, query: SpendQuery): Promise<SpendReport> {
  const w = where(query);
  const keys = query.groupBy.map((key, i) => `${GROUP_SQL[key]} AS g${i}`);
  const aliases = query.groupBy.map((_, i) => `g${i}`);
  // NULLS FIRST: SQLite's default, spelled out because PostgreSQL's is the opposite.
  const grouping = aliases.length
    ? ` GROUP BY ${aliases.join(", ")} ORDER BY ${
      aliases.map((a) => `${a} NULLS FIRST`).join(", ")
    }`
    : "";
  const sql = `SELECT ${
    [
      ...keys,
      `SUM(CASE WHEN ${REFUSED_SQL} THEN 0 ELSE 1 END) AS requests`,
      `SUM(CASE WHEN ${REFUSED_SQL} THEN 1 ELSE 0 END) AS refused`,
      "SUM(unpriced) AS unpriced",
      "SUM(input_tokens) AS input_tokens",
      "SUM(cached_input_tokens) AS cached_input_tokens",
      "SUM(cache_write_5m_tokens + cache_write_1h_tokens) AS cache_write_tokens",
      "SUM(output_tokens) AS output_tokens",
      "SUM(reasoning_tokens) AS reasoning_tokens",
      costSum(db.dialect, "cost_pico", "cost"),
    ].join(", ")
  } FROM ledger WHERE ${w.sql}${grouping}`;
  const rows = await run(db, sql, w.params);
  const groups: SpendGroup[] = [];
  let total = ZERO_TOTALS;
  for (const row of rows) {
    const totals: SpendTotals = {
      requests: toBig(row.requests),
      refusedRequests: toBig(row.refused),
      unpricedRequests: toBig(row.unpriced),
      inputTokens: toBig(row.input_tokens),
      cachedInputTokens: toBig(row.cached_input_tokens),
      cacheWriteTokens: toBig(row.cache_write_tokens),
      outputTokens: toBig(row.output_tokens),
      reasoningTokens: toBig(row.reasoning_tokens),
      costPico: readCostSum(db.dialect, row, "cost"),
    };
    total = addTotals(total, totals);
    // Without grouping the aggregate is one row, empty or not: it is the total, not a group.
    if (query.groupBy.length === 0) continue;
    const groupKeys: Partial<Record<GroupKey, string | null>> = {};
    query.groupBy.forEach((key, i) => groupKeys[key] = groupValue(key, row[`g${i}`]));
    groups.push({ keys: groupKeys, totals });
  }
  return { fromMs: query.fromMs, toMs: query.toMs, groupBy: query.groupBy, total, groups };
}

/** A page of records, newest first (by time, then request id). */
export async function recordsPage(db: SqlDb, query: RecordsQuery): Promise<RecordsPage> {
  // The cursor narrows the range itself (ts <= the cursor's), so the index seeks straight to it
  // instead of walking every newer row again on each page.
  const after = query.after;
  const w = where(after ? { ...query, toMs: Math.min(query.toMs, after.ts + 1) } : query);
  let sql = w.sql;
  const params = [...w.params];
  if (after) {
    sql += " AND (ts < ? OR request_id < ?)";
    params.push(after.ts, after.requestId);
  }
  sql += " ORDER BY ts DESC, request_id DESC LIMIT ?";
  params.push(query.limit + 1);
  const rows = await selectRows(db, sql, params);
  const records = rows.slice(0, query.limit);
  const last = records.at(-1);
  return {
    records,
    next: rows.length > query.limit && last ? { ts: last.ts, requestId: last.requestId } : null,
  };
}

/** One record by request id, or null. */
export async function recordById(db: SqlDb, requestId: string): Promise<LedgerRow | null> {
  const rows = await selectRows(db, "request_id = ?", [requestId]);
  return rows[0] ?? null;
}

/**
 * Every row of a filter, oldest first, read in chunks by keyset so that an export of millions
 * of rows never holds more than one chunk and lets other requests run between chunks.
 */
export async function* scanChunks(
  db: SqlDb,
  filter: RowFilter,
  chunk = 2000,
): AsyncGenerator<readonly LedgerRow[]> {
  let after: Cursor | undefined;
  while (true) {
    // As in recordsPage: the cursor raises the range's start, so each chunk is an index seek.
    const w = where(after ? { ...filter, fromMs: Math.max(filter.fromMs, after.ts) } : filter);
    let sql = w.sql;
    const params = [...w.params];
    if (after) {
      sql += " AND (ts > ? OR request_id > ?)";
      params.push(after.ts, after.requestId);
    }
    sql += " ORDER BY ts, request_id LIMIT ?";
    params.push(chunk);
    const rows = await selectRows(db, sql, params);
    if (rows.length) yield rows;
    if (rows.length < chunk) return;
    const last = rows[rows.length - 1];
    after = { ts: last.ts, requestId: last.requestId };
    // Let the event loop serve other requests between chunks (SQLite reads block it).
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

/** The first instant of the UTC budget window of kind `window` containing `nowMs`. */
export function windowStartMs(window: BudgetWindow, nowMs: number): number {
  const d = new Date(nowMs);
  const [y, m, day, h] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours()];
  switch (window) {
    case "hour":
      return Date.UTC(y, m, day, h);
    case "day":
      return Date.UTC(y, m, day);
    case "month":
      return Date.UTC(y, m, 1);
  }
}

function nextMonthStartMs(nowMs: number): number {
  const d = new Date(nowMs);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/**
 * Each tenant's spend in the hour, day and month windows containing `nowMs`: what a budget store
 * starts from, so a restart never refills a budget. Tenants with no rows this month are absent.
 */
export async function windowSpend(db: SqlDb, nowMs: number): Promise<WindowSpend> {
  const month = windowStartMs("month", nowMs);
  const day = windowStartMs("day", nowMs);
  const hour = windowStartMs("hour", nowMs);
  const sql = `SELECT tenant, ${costSum(db.dialect, "cost_pico", "month")}, ${
    costSum(db.dialect, "CASE WHEN ts >= ? THEN cost_pico END", "day")
  }, ${costSum(db.dialect, "CASE WHEN ts >= ? THEN cost_pico END", "hour")}
    FROM ledger WHERE ts >= ? AND ts < ? GROUP BY tenant`;
  // The SQLite form repeats each CASE three times, each with its own placeholder.
  const repeat = db.dialect === "sqlite" ? 3 : 1;
  const params: SqlValue[] = [
    ...Array(repeat).fill(day),
    ...Array(repeat).fill(hour),
    month,
    // To the month's end, not to now: a replica whose clock runs ahead still counts.
    nextMonthStartMs(nowMs),
  ];
  const out = new Map<string, Record<BudgetWindow, bigint>>();
  for (const row of await run(db, sql, params)) {
    out.set(String(row.tenant), {
      hour: readCostSum(db.dialect, row, "hour"),
      day: readCostSum(db.dialect, row, "day"),
      month: readCostSum(db.dialect, row, "month"),
    });
  }
  return out;
}

/**
 * Deletes rows older than `retentionDays` before `nowMs`, in chunks (a long delete would hold
 * the SQLite write lock and block appends); resolves to the number deleted.
 */
export async function pruneRows(
  db: SqlDb,
  retentionDays: number,
  nowMs: number,
  chunk = 2_000,
): Promise<number> {
  const cutoff = nowMs - retentionDays * DAY_MS;
  const sql = placeholders(
    db.dialect,
    "DELETE FROM ledger WHERE request_id IN (SELECT request_id FROM ledger WHERE ts < ? LIMIT ?)",
  );
  let deleted = 0;
  while (true) {
    const n = await db.execute(sql, [cutoff, chunk]);
    deleted += n;
    if (n < chunk) return deleted;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}
