/**
 * The ledger's table, versioned: each migration is written once and rendered for SQLite and for
 * PostgreSQL; a `schema_migrations` table records which have run, so a newer server extends an
 * older file or database in place, keeping every row.
 */
import type { LedgerRow, TokenKind } from "./row.ts";

/** The SQL dialects the ledger speaks. */
export type Dialect = "sqlite" | "postgres";

/**
 * One schema change. `sql` writes `{int}` for a 64-bit integer, `{flag}` for 0/1 and `{text}` for
 * text. PostgreSQL text is collated "C" (byte order, as SQLite compares), so both stores sort
 * groups and page by request id the same way whatever the database's locale.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: readonly string[];
}

/** Every migration, oldest first. Append only: a released migration never changes. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "ledger table",
    sql: [
      `CREATE TABLE ledger (
        request_id {text} PRIMARY KEY,
        ts {int} NOT NULL,
        tenant {text} NOT NULL,
        key_name {text},
        end_user {text},
        model {text} NOT NULL,
        request_model {text} NOT NULL,
        provider {text} NOT NULL,
        route {text} NOT NULL,
        operation {text} NOT NULL,
        status {text} NOT NULL,
        error_type {text},
        input_tokens {int} NOT NULL,
        cached_input_tokens {int} NOT NULL,
        cache_write_tokens {int} NOT NULL,
        output_tokens {int} NOT NULL,
        cost_pico {int},
        input_cost_pico {int},
        cached_input_cost_pico {int},
        cache_write_cost_pico {int},
        output_cost_pico {int},
        unpriced {flag} NOT NULL,
        usage_source {text} NOT NULL,
        pricing_version {text} NOT NULL,
        trace_id {text}
      )`,
      "CREATE INDEX ledger_ts ON ledger (ts, request_id)",
      "CREATE INDEX ledger_tenant_ts ON ledger (tenant, ts)",
    ],
  },
  {
    // The 2026 price rules: cache writes priced by duration, reasoning reported apart, service
    // and long-context tiers. Rows written before had no duration breakdown: every cache write
    // was a 5-minute write.
    version: 2,
    name: "cache write durations, reasoning tokens, tiers",
    sql: [
      "ALTER TABLE ledger RENAME COLUMN cache_write_tokens TO cache_write_5m_tokens",
      "ALTER TABLE ledger RENAME COLUMN cache_write_cost_pico TO cache_write_5m_cost_pico",
      "ALTER TABLE ledger ADD COLUMN cache_write_1h_tokens {int} NOT NULL DEFAULT 0",
      "ALTER TABLE ledger ADD COLUMN cache_write_1h_cost_pico {int}",
      "UPDATE ledger SET cache_write_1h_cost_pico = 0 WHERE cost_pico IS NOT NULL",
      "ALTER TABLE ledger ADD COLUMN reasoning_tokens {int} NOT NULL DEFAULT 0",
      "ALTER TABLE ledger ADD COLUMN service_tier {text}",
      "ALTER TABLE ledger ADD COLUMN price_tier {text}",
    ],
  },
];

/** The statements of a migration in one dialect. */
export function migrationSql(migration: Migration, dialect: Dialect): string[] {
  const types = dialect === "sqlite"
    ? { int: "INTEGER", flag: "INTEGER", text: "TEXT" }
    : { int: "BIGINT", flag: "SMALLINT", text: 'TEXT COLLATE "C"' };
  return migration.sql.map((s) =>
    s.replaceAll("{int}", types.int).replaceAll("{flag}", types.flag).replaceAll(
      "{text}",
      types.text,
    )
  );
}

/** The bookkeeping table, the same in both dialects. */
export const SCHEMA_MIGRATIONS_SQL =
  "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)";

/** Cost column of each token kind. */
export const KIND_COST_COLUMN: Readonly<Record<TokenKind, string>> = {
  input: "input_cost_pico",
  cached_input: "cached_input_cost_pico",
  cache_write_5m: "cache_write_5m_cost_pico",
  cache_write_1h: "cache_write_1h_cost_pico",
  output: "output_cost_pico",
};

/** The row's columns in the latest schema, in insert order. */
export const COLUMNS = [
  "request_id",
  "ts",
  "tenant",
  "key_name",
  "end_user",
  "model",
  "request_model",
  "provider",
  "route",
  "operation",
  "status",
  "error_type",
  "input_tokens",
  "cached_input_tokens",
  "cache_write_5m_tokens",
  "cache_write_1h_tokens",
  "output_tokens",
  "reasoning_tokens",
  "service_tier",
  "price_tier",
  "cost_pico",
  "input_cost_pico",
  "cached_input_cost_pico",
  "cache_write_5m_cost_pico",
  "cache_write_1h_cost_pico",
  "output_cost_pico",
  "unpriced",
  "usage_source",
  "pricing_version",
  "trace_id",
] as const;

/** A value bound to a statement parameter. */
export type SqlValue = string | number | bigint | null;

/** A row's values in {@link COLUMNS} order. */
export function rowValues(row: LedgerRow): SqlValue[] {
  const k = row.kindCosts;
  return [
    row.requestId,
    row.ts,
    row.tenant,
    row.keyName,
    row.endUser,
    row.model,
    row.requestModel,
    row.provider,
    row.route,
    row.operation,
    row.status,
    row.errorType,
    row.inputTokens,
    row.cachedInputTokens,
    row.cacheWrite5mTokens,
    row.cacheWrite1hTokens,
    row.outputTokens,
    row.reasoningTokens,
    row.serviceTier,
    row.priceTier,
    row.costPico,
    k?.input ?? null,
    k?.cached_input ?? null,
    k?.cache_write_5m ?? null,
    k?.cache_write_1h ?? null,
    k?.output ?? null,
    row.unpriced ? 1 : 0,
    row.usageSource,
    row.pricingVersion,
    row.traceId,
  ];
}

const num = (v: unknown): number => Number(v);
const big = (v: unknown): bigint | null =>
  v === null || v === undefined ? null : BigInt(v as bigint | number | string);
const text = (v: unknown): string | null => v === null || v === undefined ? null : String(v);

/** Column name → index in {@link COLUMNS}. */
const AT = Object.fromEntries(COLUMNS.map((name, i) => [name, i])) as Record<
  typeof COLUMNS[number],
  number
>;

/**
 * A stored row, its values in {@link COLUMNS} order, back as a {@link LedgerRow}. Integers may
 * arrive as number, bigint (SQLite read with big ints) or string (PostgreSQL's BIGINT); all are
 * read exactly.
 */
export function decodeRow(v: readonly unknown[]): LedgerRow {
  const costPico = big(v[AT.cost_pico]);
  return {
    requestId: String(v[AT.request_id]),
    ts: num(v[AT.ts]),
    tenant: String(v[AT.tenant]),
    keyName: text(v[AT.key_name]),
    endUser: text(v[AT.end_user]),
    model: String(v[AT.model]),
    requestModel: String(v[AT.request_model]),
    provider: String(v[AT.provider]),
    route: String(v[AT.route]),
    operation: String(v[AT.operation]),
    status: String(v[AT.status]),
    errorType: text(v[AT.error_type]),
    inputTokens: num(v[AT.input_tokens]),
    cachedInputTokens: num(v[AT.cached_input_tokens]),
    cacheWrite5mTokens: num(v[AT.cache_write_5m_tokens]),
    cacheWrite1hTokens: num(v[AT.cache_write_1h_tokens]),
    outputTokens: num(v[AT.output_tokens]),
    reasoningTokens: num(v[AT.reasoning_tokens]),
    serviceTier: text(v[AT.service_tier]),
    priceTier: text(v[AT.price_tier]),
    costPico,
    kindCosts: costPico === null ? null : {
      input: big(v[AT.input_cost_pico]) ?? 0n,
      cached_input: big(v[AT.cached_input_cost_pico]) ?? 0n,
      cache_write_5m: big(v[AT.cache_write_5m_cost_pico]) ?? 0n,
      cache_write_1h: big(v[AT.cache_write_1h_cost_pico]) ?? 0n,
      output: big(v[AT.output_cost_pico]) ?? 0n,
    },
    unpriced: num(v[AT.unpriced]) === 1,
    usageSource: String(v[AT.usage_source]) as LedgerRow["usageSource"],
    pricingVersion: String(v[AT.pricing_version]),
    traceId: text(v[AT.trace_id]),
  };
}
