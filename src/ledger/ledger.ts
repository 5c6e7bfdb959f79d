/**
 * The spend ledger: an append-only record of every finished inference request, in a SQLite file
 * (the default) or in PostgreSQL through a local outbox (for several replicas). `openLedger()`
 * picks the store from the configuration; everything else talks to the {@link Ledger} interface.
 */
import type { LedgerStoreConfig } from "../config.ts";
import { recordById, recordsPage, scanChunks, spendReport, windowSpend } from "./queries.ts";
import type { Ledger, LedgerOptions } from "./types.ts";
import { openSqliteFile, sqliteDb } from "./sqlite.ts";
import { openWorkerReader } from "./sqlite_reader.ts";
import { commitsOnWorker, GroupCommitWriter, WorkerWriter } from "./writer.ts";
import { openPostgresLedger } from "./postgres.ts";
import { scheduleRetention } from "./retention.ts";
import { liveSummary } from "./live.ts";

export type { Ledger, LedgerOptions } from "./types.ts";

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
  const writer = commitsOnWorker(path)
    ? new WorkerWriter(path, sync, options.metrics)
    : new GroupCommitWriter(file, options.metrics, undefined, path);
  options.metrics?.outboxBacklog.set(0);
  const retention = scheduleRetention(options, db);
  return {
    store: "sqlite",
    append: (row) => writer.append(row),
    report: (query) => spendReport(db, query),
    page: (query) => recordsPage(db, query),
    record: (id) => recordById(db, id),
    scan: (filter) => scanChunks(db, filter),
    summary: (query) => liveSummary(db, query),
    windowSpend: (nowMs) => windowSpend(db, nowMs),
    prune: retention.prune,
    backlog: () => 0,
    async close() {
      retention.stop();
      await writer.close();
      reader?.close();
      file.close();
    },
  };
}
