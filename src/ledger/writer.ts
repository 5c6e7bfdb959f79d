/**
 * Group commit: rows appended during one turn of the event loop are written in one SQLite
 * transaction, and every append's promise resolves once that transaction has committed. A
 * response that awaits its append is therefore on disk before the client sees it, at the cost of
 * one commit per turn rather than one per request.
 *
 * Two writers share this: {@link WorkerWriter} (writer_worker.ts), which commits on a worker
 * thread's own connection to the file — the default, as a commit blocks for tens of microseconds
 * and the server's event loop should not — and {@link GroupCommitWriter}, which commits on the
 * calling thread (an in-memory database, which a worker cannot share).
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { clearImmediate, setImmediate } from "node:timers";
import type { LedgerMetrics } from "../telemetry/metrics.ts";
import { formatUsd } from "../pricing/money.ts";
import { type LedgerRow, validateRow } from "./row.ts";
import { COLUMNS, rowValues, type SqlValue } from "./schema.ts";

/** Appends rows to the ledger table; what a store's `append` and `close` are built on. */
export interface RowWriter {
  /**
   * Queues a row; resolves when it is committed (or was already there: a replay is a no-op) and
   * rejects, counting a write error, when it cannot be.
   */
  append(row: LedgerRow): Promise<void>;
  /** Commits what is queued, waits for it, and refuses further appends. */
  close(): Promise<void>;
}

/** Called after each commit with the number of rows it added (a replay adds none). */
export type OnCommit = (added: number) => void;

/** What became of one row of a batch: added, already there (a replay), or an error message. */
export type RowOutcome = "added" | "replay" | { readonly error: string };

/** The ledger's insert statement on `db`; a replayed request id changes nothing. */
export function prepareInsert(db: DatabaseSync): StatementSync {
  return db.prepare(
    `INSERT INTO ledger (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")})
     ON CONFLICT (request_id) DO NOTHING`,
  );
}

/**
 * Commits a batch of rows (their values in column order) in one transaction. When that fails,
 * commits them one by one, so only the rows that really cannot be written (a full disk fails
 * them all) come back as errors.
 */
export function commitBatch(
  db: DatabaseSync,
  insert: StatementSync,
  batch: readonly (readonly SqlValue[])[],
): RowOutcome[] {
  try {
    return transaction(db, insert, batch);
  } catch {
    return batch.map((values) => {
      try {
        return transaction(db, insert, [values])[0];
      } catch (error) {
        return { error: error instanceof Error ? error.message : String(error) };
      }
    });
  }
}

function transaction(
  db: DatabaseSync,
  insert: StatementSync,
  batch: readonly (readonly SqlValue[])[],
): RowOutcome[] {
  db.exec("BEGIN IMMEDIATE");
  try {
    const outcomes = batch.map((values): RowOutcome =>
      insert.run(...values).changes > 0 ? "added" : "replay"
    );
    db.exec("COMMIT");
    return outcomes;
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

interface Pending {
  readonly row: LedgerRow;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Rows queued during one turn of the event loop, handed to `commit` together. Counts what the
 * commit reports in the ledger's metrics and settles each row's promise.
 */
abstract class BatchingWriter implements RowWriter {
  #pending: Pending[] = [];
  #scheduled: ReturnType<typeof setImmediate> | undefined;
  #closed = false;

  constructor(
    protected readonly metrics: LedgerMetrics | undefined,
    private readonly onCommit: OnCommit,
  ) {}

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

  /** Hands everything queued now to the commit. */
  flush(): void {
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length > 0) this.commit(batch);
  }

  async close(): Promise<void> {
    this.flush();
    this.#closed = true;
    await this.drained();
  }

  /** Commits a batch, then calls {@link settle} with its outcomes. */
  protected abstract commit(batch: readonly Pending[]): void;

  /** Resolves once every batch handed to {@link commit} has been settled. */
  protected abstract drained(): Promise<void>;

  /** Counts a committed batch and settles each of its rows' promises. */
  protected settle(batch: readonly Pending[], outcomes: readonly RowOutcome[]): void {
    let added = 0;
    let costPico = 0n;
    batch.forEach((entry, i) => {
      const outcome = outcomes[i];
      if (typeof outcome === "object") {
        this.metrics?.writeErrors.inc();
        entry.reject(new Error(outcome.error));
        return;
      }
      if (outcome === "added") {
        added++;
        costPico += entry.row.costPico ?? 0n;
      }
      entry.resolve();
    });
    this.metrics?.rowsWritten.inc(added);
    if (costPico > 0n) this.metrics?.costUsd.inc(Number(formatUsd(costPico)));
    this.onCommit(added);
  }

  /** Fails a batch whose commit never ran (the worker is gone). */
  protected fail(batch: readonly Pending[], error: Error): void {
    for (const entry of batch) {
      this.metrics?.writeErrors.inc();
      entry.reject(error);
    }
  }
}

/** Commits on the calling thread, synchronously at the end of each turn. */
export class GroupCommitWriter extends BatchingWriter {
  readonly #insert: StatementSync;

  constructor(
    private readonly db: DatabaseSync,
    metrics: LedgerMetrics | undefined,
    onCommit: OnCommit = () => {},
  ) {
    super(metrics, onCommit);
    this.#insert = prepareInsert(db);
  }

  protected commit(batch: readonly Pending[]): void {
    this.settle(batch, commitBatch(this.db, this.#insert, batch.map((e) => rowValues(e.row))));
  }

  protected drained(): Promise<void> {
    return Promise.resolve();
  }
}

/** A batch for the writer worker: the rows' values in column order. */
export interface WriteRequest {
  readonly id: number;
  readonly rows: readonly (readonly SqlValue[])[];
}

/** The first message to the writer worker: the file to open. */
export interface OpenWriter {
  readonly id: -1;
  readonly path: string;
  readonly sync: "normal" | "full";
}

/** The worker's answer: the outcome of each row, or why the batch could not run at all. */
export type WriteResponse =
  | { readonly id: number; readonly outcomes: readonly RowOutcome[] }
  | { readonly id: number; readonly error: string };

/**
 * Commits on a worker thread (writer_worker.ts) with its own connection to the ledger file (the
 * caller has created and migrated it). A row's promise resolves when the worker reports its
 * transaction committed, so the durability promise is the same as committing here; the event
 * loop only copies the row's values into a message.
 */
export class WorkerWriter extends BatchingWriter {
  readonly #worker: Worker;
  readonly #inflight = new Map<number, readonly Pending[]>();
  #next = 0;
  #broken: Error | undefined;
  #idle: (() => void) | undefined;

  constructor(
    path: string,
    sync: "normal" | "full",
    metrics: LedgerMetrics | undefined,
    onCommit: OnCommit = () => {},
  ) {
    super(metrics, onCommit);
    this.#worker = new Worker(new URL("./writer_worker.ts", import.meta.url), { type: "module" });
    this.#worker.onmessage = (event: MessageEvent<WriteResponse>) => this.#answer(event.data);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#break(new Error(`ledger writer stopped: ${event.message}`));
    };
    this.#worker.postMessage({ id: -1, path, sync } satisfies OpenWriter);
  }

  protected commit(batch: readonly Pending[]): void {
    if (this.#broken) return this.fail(batch, this.#broken);
    const id = this.#next++;
    this.#inflight.set(id, batch);
    this.#worker.postMessage(
      { id, rows: batch.map((e) => rowValues(e.row)) } satisfies WriteRequest,
    );
  }

  protected async drained(): Promise<void> {
    if (this.#inflight.size > 0) await new Promise<void>((resolve) => this.#idle = resolve);
    this.#worker.terminate();
  }

  #answer(answer: WriteResponse): void {
    if (answer.id === -1) {
      if ("error" in answer) this.#break(new Error(`ledger writer cannot open: ${answer.error}`));
      return;
    }
    const batch = this.#inflight.get(answer.id);
    if (!batch) return;
    this.#inflight.delete(answer.id);
    if ("error" in answer) this.fail(batch, new Error(answer.error));
    else this.settle(batch, answer.outcomes);
    if (this.#inflight.size === 0) this.#idle?.();
  }

  #break(error: Error): void {
    this.#broken = error;
    for (const batch of this.#inflight.values()) this.fail(batch, error);
    this.#inflight.clear();
    this.#idle?.();
  }
}
