/**
 * The worker half of {@link WorkerWriter}: its own connection to the ledger file, and a loop that
 * takes every record waiting in the shared ring (the rows of one or more turns of the server's
 * event loop), commits them in one transaction and reports each row's outcome. While rows come it looks at the ring every {@link POLL_MS} on its own clock, so
 * the server's thread never pays to wake it; after {@link IDLE_MS} without a row it sleeps until
 * the next row's write wakes it (one wake after a quiet spell).
 */
/// <reference lib="deno.worker" />
import { DatabaseSync } from "node:sqlite";
import { ByteRing } from "./ring.ts";
import type { SqlValue } from "./schema.ts";
import {
  BIGINT_COLUMNS,
  commitBatch,
  type OpenWriter,
  prepareInsert,
  type RowOutcome,
  type WriteResponse,
} from "./writer.ts";

/**
 * How often the ring is looked at while rows come: a row waits at most this for its commit. Rows
 * that arrive during a commit share the next one. (1 ms gathered more rows per commit, but on a
 * closed loop of 16 clients the wait cost `/v1/inference` a fifth of its throughput; 0.1 ms was no
 * faster than 0.25 ms and polled 2.5 times as often.)
 */
const POLL_MS = 0.25;
/** Without a row for this long, the worker sleeps until woken. */
const IDLE_MS = 20;
/** A sleeping worker still looks this often (a lost wake costs at most this much). */
const SLEEP_MS = 1_000;

const decoder = new TextDecoder();

self.onmessage = (event: MessageEvent<OpenWriter>) => {
  self.onmessage = null;
  const { path, sync } = event.data;
  const ring = new ByteRing(event.data.ring);
  let commit: (rows: SqlValue[][]) => RowOutcome[];
  try {
    const db = new DatabaseSync(path);
    // The file's WAL mode is persistent; synchronous and the lock wait are per connection.
    db.exec(`PRAGMA synchronous = ${sync === "full" ? "FULL" : "NORMAL"}`);
    db.exec("PRAGMA busy_timeout = 5000");
    const insert = prepareInsert(db);
    commit = (rows) => commitBatch(db, insert, rows);
  } catch (error) {
    const reason = `ledger writer cannot open: ${messageOf(error)}`;
    commit = (rows) => rows.map(() => ({ error: reason }));
  }
  let lastRowAt = performance.now();
  while (true) {
    const records = ring.readAll();
    if (records.length > 0) {
      const seqs: number[] = [];
      const rows: SqlValue[][] = [];
      for (const record of records) {
        for (const [seq, values] of JSON.parse(decoder.decode(record)) as [number, SqlValue[]][]) {
          for (const i of BIGINT_COLUMNS) if (values[i] !== null) values[i] = BigInt(values[i]!);
          seqs.push(seq);
          rows.push(values);
        }
      }
      const outcomes = commit(rows);
      const answer: WriteResponse = outcomes.every((o) => o === "added")
        ? seqs[seqs.length - 1]
        : { seqs, outcomes };
      self.postMessage(answer);
      lastRowAt = performance.now();
    } else if (ring.closed) {
      return;
    }
    const idle = performance.now() - lastRowAt > IDLE_MS;
    ring.wait(idle ? SLEEP_MS : POLL_MS, idle);
  }
};

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
