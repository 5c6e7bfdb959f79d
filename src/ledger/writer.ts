/**
 * Group commit: rows appended during one turn of the event loop are written in one SQLite
 * transaction, and every append's promise resolves once that transaction has committed. A
 * response that awaits its append is therefore on disk before the client sees it, at the cost of
 * one commit per turn rather than one per request.
 *
 * Two writers share this: {@link WorkerWriter} (writer_worker.ts), which commits on a worker
 * thread's own connection to the file — the default, as a commit blocks for 30-50 µs and the
 * server's event loop should not — and {@link GroupCommitWriter}, which commits on the calling
 * thread (an in-memory database, which a worker cannot share).
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { availableParallelism } from "node:os";
import { clearImmediate, setImmediate } from "node:timers";
import type { LedgerMetrics } from "../telemetry/metrics.ts";
import { formatUsd } from "../pricing/money.ts";
import { type LedgerRow, validateRow } from "./row.ts";
import { ByteRing } from "./ring.ts";
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

/**
 * Commits on the calling thread, synchronously at the end of each turn. Given the file's path, its
 * WAL checkpoints run on the checkpoint worker (checkpoint_worker.ts), as beside
 * {@link WorkerWriter}: left to SQLite, the commit that takes the log past 1,000 pages copies it
 * and syncs both files on this thread, holding the event loop for it. On one pinned CPU (where
 * this writer is used), two rows a millisecond for 8 s: 18-19 of ~3,500 appends took over 2 ms
 * (up to 5.7 ms) that way, none with the worker (up to 1.8 ms). The worker's thread shares the
 * core, but its copy and its syncs no longer stop the event loop.
 */
export class GroupCommitWriter extends BatchingWriter {
  readonly #insert: StatementSync;
  readonly #checkpoints: { worker: Worker; afterCommit: () => void } | undefined;

  constructor(
    private readonly db: DatabaseSync,
    metrics: LedgerMetrics | undefined,
    onCommit: OnCommit = () => {},
    /** The file `db` is on, for the checkpoint worker; none for an in-memory database. */
    path?: string,
  ) {
    super(metrics, onCommit);
    this.#insert = prepareInsert(db);
    if (path !== undefined && path !== ":memory:") {
      const heartbeat = new SharedArrayBuffer(4);
      this.#checkpoints = {
        worker: startCheckpointer(path, heartbeat),
        afterCommit: checkpointFallbackFor(db, new Int32Array(heartbeat)),
      };
    }
  }

  protected commit(batch: readonly Pending[]): void {
    const outcomes = commitBatch(this.db, this.#insert, batch.map((e) => rowValues(e.row)));
    this.#checkpoints?.afterCommit();
    this.settle(batch, outcomes);
  }

  protected drained(): Promise<void> {
    this.#checkpoints?.worker.terminate();
    return Promise.resolve();
  }
}

/** The first and only message to the writer worker: the file to open, the ring and the acks. */
export interface OpenWriter {
  readonly path: string;
  readonly sync: "normal" | "full";
  readonly ring: SharedArrayBuffer;
  /** {@link ACK_INTS} shared integers: see {@link ACK} and {@link MIXED}. */
  readonly acks: SharedArrayBuffer;
  /** One shared integer the checkpoint worker bumps: see {@link CheckpointFallback}. */
  readonly heartbeat: SharedArrayBuffer;
}

/** The only message to the checkpoint worker (checkpoint_worker.ts). */
export interface OpenCheckpointer {
  readonly path: string;
  /** How often it checkpoints: {@link CHECKPOINT_EVERY_MS}. */
  readonly everyMs: number;
  /** Pages in the log at which it starts the log over: {@link RESTART_FRAMES}. */
  readonly restartFrames: number;
  /** Bumped after each checkpoint that ran (busy or not): the writer's sign that it is alive. */
  readonly heartbeat: SharedArrayBuffer;
}

/** How often the checkpoint worker copies the log into the database file. */
export const CHECKPOINT_EVERY_MS = 200;
/** Pages in the log (4 KiB each) at which the checkpoint worker has it started over: 16 MiB. */
export const RESTART_FRAMES = 4_096;
/** SQLite's own automatic checkpoint (its default): what the writer falls back to. */
export const FALLBACK_AUTOCHECKPOINT_FRAMES = 1_000;
/** A heartbeat that has not moved for this long means the checkpoint worker stopped or is stuck. */
export const HEARTBEAT_STALE_MS = 2_000;

/**
 * The writer worker's automatic checkpoint: off while the checkpoint worker's heartbeat moves,
 * SQLite's default once it has not moved for {@link HEARTBEAT_STALE_MS}. Off, because a writer
 * that checkpoints copies the log inside a commit (after a reader held the log for 5 s, that one
 * commit took 50-66 ms); back on, so that a checkpoint worker that stopped or fails never lets the
 * log grow without end. The connection starts with SQLite's default, until the first beat.
 */
export class CheckpointFallback {
  #beat: number;
  #checkAt: number;
  #own = true;

  constructor(now: number, beat: number) {
    this.#beat = beat;
    this.#checkAt = now + HEARTBEAT_STALE_MS;
  }

  /** After a commit: the `wal_autocheckpoint` to set now, or undefined to leave it as it is. */
  next(now: number, beat: number): number | undefined {
    if (now < this.#checkAt && !(this.#own && beat !== this.#beat)) return undefined;
    const alive = beat !== this.#beat;
    this.#beat = beat;
    this.#checkAt = now + HEARTBEAT_STALE_MS;
    if (alive !== this.#own) return undefined;
    this.#own = !alive;
    return alive ? 0 : FALLBACK_AUTOCHECKPOINT_FRAMES;
  }
}

/**
 * What a writer's connection `db` calls after each commit: sets its automatic checkpoint as
 * {@link CheckpointFallback} says from the checkpoint worker's `heartbeat`.
 */
export function checkpointFallbackFor(db: DatabaseSync, heartbeat: Int32Array): () => void {
  const fallback = new CheckpointFallback(performance.now(), Atomics.load(heartbeat, 0));
  return () => {
    const frames = fallback.next(performance.now(), Atomics.load(heartbeat, 0));
    if (frames !== undefined) db.exec(`PRAGMA wal_autocheckpoint = ${frames}`);
  };
}

/**
 * Starts the checkpoint worker (checkpoint_worker.ts) on the ledger file at `path`, beating
 * `heartbeat`. `terminate()` the returned worker when the writer closes.
 */
function startCheckpointer(path: string, heartbeat: SharedArrayBuffer): Worker {
  const worker = new Worker(new URL("./checkpoint_worker.ts", import.meta.url), { type: "module" });
  // Without it the writer's own automatic checkpoint keeps the log bounded: nothing to stop.
  worker.onerror = (event) => event.preventDefault();
  worker.postMessage(
    {
      path,
      everyMs: CHECKPOINT_EVERY_MS,
      restartFrames: RESTART_FRAMES,
      heartbeat,
    } satisfies OpenCheckpointer,
  );
  return worker;
}

/**
 * Shared slot: how many rows have been committed (the sequence number of the next row), low 32
 * bits. The worker stores it after each commit and notifies it; the server's thread waits on it
 * with `Atomics.waitAsync`, so an acknowledgement costs it no message to deserialize and dispatch
 * (that took a quarter of the ledger's time on the event loop).
 */
export const ACK = 0;
/**
 * Shared slot: how many commits had a row that was not simply added (a replay, an error). Each
 * such commit is also posted as a {@link CommitDetails} message before {@link ACK} moves past
 * it; the server's thread settles from {@link ACK} only when it has read every one of them, so
 * no row is taken as added that was not.
 */
export const MIXED = 1;
/** Integers in the acks buffer. */
export const ACK_INTS = 2;

/** The worker's report of a commit in which some row was not simply added: each row's outcome. */
export interface CommitDetails {
  readonly seqs: readonly number[];
  readonly outcomes: readonly RowOutcome[];
}

/** The columns holding picodollars: a bigint crosses the ring as a decimal string. */
export const BIGINT_COLUMNS: readonly number[] = COLUMNS.flatMap((name, i) =>
  name.endsWith("_pico") ? [i] : []
);

/** Room for the rows of about a second of heavy traffic before they queue on this thread. */
const RING_BYTES = 4 * 1024 * 1024;
/** Rows per ring record at most (a record is about 600 bytes a row). */
const RECORD_ROWS = 500;
/** Longest wait for the worker's acknowledgement before looking again. */
const BACKSTOP_MS = 1_000;

/**
 * Commits on a worker thread (writer_worker.ts) with its own connection to the ledger file (the
 * caller has created and migrated it). Rows cross in a shared-memory ring (ring.ts); commits come
 * back as a shared sequence number (see {@link ACK}), so the event loop neither wakes the worker
 * per row nor deserializes a message per commit, nor blocks on the commit; it only encodes each
 * row's values. A row's promise resolves when the worker reports its transaction committed, so
 * the durability promise is the same as committing here.
 */
export class WorkerWriter extends BatchingWriter {
  readonly #worker: Worker;
  /** Checkpoints the file's log beside the writer (checkpoint_worker.ts). */
  readonly #checkpointer: Worker;
  readonly #ring = ByteRing.create(RING_BYTES);
  readonly #acks = new Int32Array(new SharedArrayBuffer(ACK_INTS * 4));
  /** Rows handed to the worker and not yet settled, in sequence order from {@link #head}. */
  #queue: Pending[] = [];
  #head = 0;
  /** The sequence number of `#queue[#head]`. */
  #firstSeq = 0;
  /** Commit details read so far (see {@link MIXED}). */
  #mixedSeen = 0;
  #waiting = false;
  /** Records the ring had no room for yet, oldest first. */
  #overflow: string[] = [];
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
    this.#worker.onmessage = (event: MessageEvent<CommitDetails>) => this.#details(event.data);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#break(new Error(`ledger writer stopped: ${event.message}`));
    };
    const heartbeat = new SharedArrayBuffer(4);
    this.#worker.postMessage(
      {
        path,
        sync,
        ring: this.#ring.buffer,
        acks: this.#acks.buffer as SharedArrayBuffer,
        heartbeat,
      } satisfies OpenWriter,
    );
    this.#checkpointer = startCheckpointer(path, heartbeat);
  }

  get #inflight(): number {
    return this.#queue.length - this.#head;
  }

  protected commit(batch: readonly Pending[]): void {
    if (this.#broken) return this.fail(batch, this.#broken);
    // One record per turn's rows (in parts of RECORD_ROWS), so they share one transaction.
    for (let start = 0; start < batch.length; start += RECORD_ROWS) {
      const rows: [number, SqlValue[]][] = [];
      for (const entry of batch.slice(start, start + RECORD_ROWS)) {
        const seq = this.#firstSeq + this.#inflight;
        this.#queue.push(entry);
        const values = rowValues(entry.row);
        for (const i of BIGINT_COLUMNS) if (values[i] !== null) values[i] = String(values[i]);
        rows.push([seq, values]);
      }
      const record = JSON.stringify(rows);
      if (this.#overflow.length > 0 || !this.#ring.writeText(record)) this.#overflow.push(record);
    }
    this.#wait();
  }

  protected async drained(): Promise<void> {
    if (this.#inflight > 0) await new Promise<void>((resolve) => this.#idle = resolve);
    this.#ring.close();
    this.#worker.terminate();
    this.#checkpointer.terminate();
    // Releases a wait still pending on the acks.
    Atomics.notify(this.#acks, ACK);
  }

  /** Waits (without blocking) for the worker's next commit while rows are in flight. */
  #wait(): void {
    if (this.#waiting || this.#inflight === 0 || this.#broken) return;
    // A commit's details are on their way: their message looks again.
    if (Atomics.load(this.#acks, MIXED) !== this.#mixedSeen) return;
    const seen = Atomics.load(this.#acks, ACK);
    if (this.#committedAhead(seen) > 0) return this.#collect();
    // The timeout is a backstop only: a wake lost to a bug here would cost a second, not a hang.
    const result = Atomics.waitAsync(this.#acks, ACK, seen, BACKSTOP_MS);
    if (!result.async) return this.#collect();
    this.#waiting = true;
    result.value.then(() => {
      this.#waiting = false;
      this.#collect();
    });
  }

  /** How many rows in flight a value of the {@link ACK} slot says are committed. */
  #committedAhead(ack: number): number {
    // The slot holds the low 32 bits of a count; fewer than 2^31 rows are ever in flight.
    return Math.min((ack - (this.#firstSeq | 0)) | 0, this.#inflight);
  }

  /** Settles every row the worker has committed since the last look. */
  #collect(): void {
    if (this.#settleAcknowledged()) this.#afterSettle();
  }

  /**
   * Settles as added the rows the {@link ACK} slot covers; false, settling nothing, while a
   * commit's details are still to be read (their message settles them, then looks again).
   */
  #settleAcknowledged(): boolean {
    // The ack first: a commit with details is counted in MIXED before the ack moves past it.
    const ack = Atomics.load(this.#acks, ACK);
    if (Atomics.load(this.#acks, MIXED) !== this.#mixedSeen) return false;
    this.#settleAdded(this.#committedAhead(ack));
    return true;
  }

  /** Settles the oldest `count` rows in flight as added. */
  #settleAdded(count: number): void {
    if (count <= 0) return;
    const batch = this.#take(count);
    this.settle(batch, batch.map(() => "added"));
  }

  /** Takes the oldest `count` rows in flight off the queue. */
  #take(count: number): Pending[] {
    const batch = this.#queue.slice(this.#head, this.#head + count);
    this.#head += count;
    this.#firstSeq += count;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return batch;
  }

  /** A commit with a replayed or failed row: every earlier row was added; these as reported. */
  #details(details: CommitDetails): void {
    // In int32, as the shared slot counts: both wrap at 2^31 together.
    this.#mixedSeen = (this.#mixedSeen + 1) | 0;
    const first = details.seqs[0];
    if (first !== undefined) {
      this.#settleAdded(Math.min(first - this.#firstSeq, this.#inflight));
      const batch = this.#take(Math.min(details.seqs.length, this.#inflight));
      this.settle(batch, details.outcomes.slice(0, batch.length));
    }
    this.#collect();
  }

  #afterSettle(): void {
    // The worker has read what it committed: there may be room for rows waiting here.
    while (this.#overflow.length > 0 && this.#ring.writeText(this.#overflow[0])) {
      this.#overflow.shift();
    }
    if (this.#inflight === 0) this.#idle?.();
    else this.#wait();
  }

  #break(error: Error): void {
    this.#broken = error;
    // Rows the worker acknowledged before it stopped are committed: settled as such.
    this.#settleAcknowledged();
    this.fail(this.#take(this.#inflight), error);
    this.#overflow = [];
    this.#idle?.();
  }
}

/**
 * Whether commits run on a worker thread: when the process may use a second CPU, so the commit
 * leaves the event loop. On one CPU (pinned, or a one-CPU machine) the worker would share the
 * event loop's core, each row's commit would wait for the scheduler to switch threads (5-16 ms
 * medians at 1,000 requests/s, measured), and committing on the event loop is faster. An
 * in-memory database exists only on this thread's connection.
 */
export function commitsOnWorker(path: string): boolean {
  return path !== ":memory:" && availableParallelism() >= 2;
}
