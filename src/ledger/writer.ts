/**
 * Group commit: rows appended during one turn of the event loop are written in one SQLite
 * transaction, and every append's promise resolves once that transaction has committed. A
 * response that awaits its append is therefore on disk before the client sees it, at the cost of
 * one commit per turn rather than one per request.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { clearImmediate, setImmediate } from "node:timers";
import type { LedgerMetrics } from "../telemetry/metrics.ts";
import { formatUsd } from "../pricing/money.ts";
import { type LedgerRow, validateRow } from "./row.ts";
import { COLUMNS, rowValues } from "./schema.ts";

interface Pending {
  readonly row: LedgerRow;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Appends rows to a SQLite ledger table in group commits. */
export class GroupCommitWriter {
  #pending: Pending[] = [];
  #scheduled: ReturnType<typeof setImmediate> | undefined;
  readonly #insert: StatementSync;
  #closed = false;

  constructor(
    private readonly db: DatabaseSync,
    private readonly metrics: LedgerMetrics | undefined,
    /** Called after each commit with the number of rows it added. */
    private readonly onCommit: (added: number) => void = () => {},
  ) {
    this.#insert = db.prepare(
      `INSERT INTO ledger (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")})
       ON CONFLICT (request_id) DO NOTHING`,
    );
  }

  /**
   * Queues a row; resolves when it is committed (or was already there: a replay is a no-op) and
   * rejects, counting a write error, when it cannot be.
   */
  append(row: LedgerRow): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("ledger is closed"));
    try {
      validateRow(row);
    } catch (error) {
      this.metrics?.writeErrors.inc();
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.#pending.push({ row, resolve, reject });
      // setImmediate rather than a microtask: it runs after the I/O callbacks of this turn, so
      // requests finishing together share a commit; and rather than setTimeout(0), which waits
      // for the next timer tick (about 1-2 ms added to every response).
      this.#scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Commits everything queued now. */
  flush(): void {
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    try {
      this.#commit(batch);
    } catch {
      // One transaction for the batch failed; commit row by row so that only the rows that
      // really cannot be written (a full disk fails them all) are rejected.
      for (const entry of batch) {
        try {
          this.#commit([entry]);
        } catch (error) {
          this.metrics?.writeErrors.inc();
          entry.reject(error);
        }
      }
    }
  }

  /** Flushes what is queued and refuses further appends. */
  close(): void {
    this.flush();
    this.#closed = true;
  }

  #commit(batch: readonly Pending[]): void {
    let added = 0;
    let costPico = 0n;
    this.db.exec("BEGIN IMMEDIATE");
    try {
      for (const { row } of batch) {
        if (this.#insert.run(...rowValues(row)).changes > 0) {
          added++;
          costPico += row.costPico ?? 0n;
        }
      }
      this.db.exec("COMMIT");
    } catch (error) {
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw error;
    }
    this.metrics?.rowsWritten.inc(added);
    if (costPico > 0n) this.metrics?.costUsd.inc(Number(formatUsd(costPico)));
    this.onCommit(added);
    for (const entry of batch) entry.resolve();
  }
}
