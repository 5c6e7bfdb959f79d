/**
 * The spend ledger: an append-only record of every finished inference request, in a SQLite file
 * (the default) or in PostgreSQL through a local outbox (for several replicas). `openLedger()`
 * picks the store from the configuration; everything else talks to the {@link Ledger} interface.
 */
import type { LedgerStoreConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import type { LedgerMetrics } from "../telemetry/metrics.ts";
import type { LedgerRow } from "./row.ts";
import type { RecordsQuery, RowFilter, SpendQuery } from "./query.ts";
import {
  pruneRows,
  recordById,
  type RecordsPage,
  recordsPage,
  scanChunks,
  type SpendReport,
  spendReport,
  type WindowSpend,
  windowSpend,
} from "./queries.ts";
import { openSqliteFile, sqliteDb } from "./sqlite.ts";
import { openWorkerReader } from "./sqlite_reader.ts";
import { GroupCommitWriter } from "./writer.ts";
import { openPostgresLedger } from "./postgres.ts";
import { scheduleRetention } from "./retention.ts";

/** The ledger as the app, the spend routes and `deno task spend` use it. */
export interface Ledger {
  /** Where rows go: a SQLite file, or PostgreSQL through the outbox. */
  readonly store: "sqlite" | "postgres";
  /**
   * Records a row; resolves once it is durable (committed to the SQLite file or the outbox), so
   * a response that awaits it survives a SIGKILL. A replayed request id is a no-op.
   */
  append(row: LedgerRow): Promise<void>;
  /** A spend report: totals and groups of the rows a query selects. */
  report(query: SpendQuery): Promise<SpendReport>;
  /** A page of records, newest first. */
  page(query: RecordsQuery): Promise<RecordsPage>;
  /** One record by request id, or null. */
  record(requestId: string): Promise<LedgerRow | null>;
  /** Every row of a filter, oldest first, in chunks of up to a few thousand (for exports). */
  scan(filter: RowFilter): AsyncIterable<readonly LedgerRow[]>;
  /** Each tenant's spend in the current hour, day and month: budgets start from it. */
  windowSpend(nowMs: number): Promise<WindowSpend>;
  /** Deletes rows past the retention period; resolves to how many (0 when keeping all). */
  prune(nowMs: number): Promise<number>;
  /** Rows committed locally and not yet in PostgreSQL (always 0 for SQLite). */
  backlog(): number;
  /** Commits what is queued (and, with PostgreSQL, tries to ship it), then closes. */
  close(): Promise<void>;
}

/** What a ledger is built with besides its store. */
export interface LedgerOptions {
  readonly metrics?: LedgerMetrics;
  readonly logger?: Logger;
  /** LEDGER_RETENTION_DAYS; undefined keeps every row. */
  readonly retentionDays?: number;
  /** The wall clock, epoch ms (retention runs against it). */
  readonly now?: () => number;
  /** Read only (`deno task spend`): with PostgreSQL, no outbox is opened and nothing shipped. */
  readonly readOnly?: boolean;
}

/** Opens the ledger the configuration names; null for LEDGER_URL=none. */
export function openLedger(config: LedgerStoreConfig, options: LedgerOptions = {}): Ledger | null {
  switch (config.kind) {
    case "none":
      return null;
    case "sqlite":
      return openSqliteLedger(config.path, config.sync, options);
    case "postgres":
      return openPostgresLedger(config, options);
  }
}

/** A ledger in one SQLite file. */
export function openSqliteLedger(
  path: string,
  sync: "normal" | "full",
  options: LedgerOptions = {},
): Ledger {
  const file = openSqliteFile(path, sync);
  // Reads go to a worker's own connection; an in-memory database has no file to share.
  const reader = path === ":memory:" ? undefined : openWorkerReader(path);
  const db = reader ?? sqliteDb(file);
  const writer = new GroupCommitWriter(file, options.metrics);
  options.metrics?.outboxBacklog.set(0);
  const retention = scheduleRetention(
    options,
    (nowMs) =>
      options.retentionDays === undefined
        ? Promise.resolve(0)
        : pruneRows(db, options.retentionDays, nowMs),
  );
  return {
    store: "sqlite",
    append: (row) => writer.append(row),
    report: (query) => spendReport(db, query),
    page: (query) => recordsPage(db, query),
    record: (id) => recordById(db, id),
    scan: (filter) => scanChunks(db, filter),
    windowSpend: (nowMs) => windowSpend(db, nowMs),
    prune: retention.prune,
    backlog: () => 0,
    close() {
      retention.stop();
      writer.close();
      reader?.close();
      file.close();
      return Promise.resolve();
    },
  };
}
