/**
 * The worker half of {@link WorkerWriter}: its own connection to the ledger file, and a loop that
 * takes every record waiting in the shared ring (the rows of one or more turns of the server's
 * event loop), commits them in one transaction and reports it through the shared acks. Rows
 * that come while it commits share the next commit (a group commit); when the ring is empty it
 * sleeps until the next record's write wakes it.
 *
 * Sleeping rather than polling the ring on a clock: measured on the plain gateway path at
 * ~6,000 requests/s (2 vCPUs), looking every 0.25 ms cost the worker a fifth more CPU than being
 * woken, and that CPU, on the core the load generator and the upstream share, cost the server
 * more throughput (ledger on ÷ off 0.81-0.85 polling, 0.85-0.90 woken) than the wake costs the
 * event loop (about 4 µs a commit).
 */
/// <reference lib="deno.worker" />
import { DatabaseSync } from "node:sqlite";
import { ByteRing } from "./ring.ts";
import type { SqlValue } from "./schema.ts";
import {
  ACK,
  BIGINT_COLUMNS,
  checkpointFallbackFor,
  commitBatch,
  type CommitDetails,
  FALLBACK_AUTOCHECKPOINT_FRAMES,
  MIXED,
  type OpenWriter,
  prepareInsert,
  type RowOutcome,
} from "./writer.ts";

/** A sleeping worker still looks this often (a lost wake costs at most this much). */
const SLEEP_MS = 1_000;

const decoder = new TextDecoder();

self.onmessage = (event: MessageEvent<OpenWriter>) => {
  self.onmessage = null;
  const { path, sync } = event.data;
  const heartbeat = new Int32Array(event.data.heartbeat);
  const ring = new ByteRing(event.data.ring);
  const acks = new Int32Array(event.data.acks);
  let commit: (rows: SqlValue[][]) => RowOutcome[];
  try {
    const db = new DatabaseSync(path);
    // The file's WAL mode is persistent; synchronous and the lock wait are per connection.
    db.exec(`PRAGMA synchronous = ${sync === "full" ? "FULL" : "NORMAL"}`);
    db.exec("PRAGMA busy_timeout = 5000");
    db.exec(`PRAGMA wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_FRAMES}`);
    const insert = prepareInsert(db);
    // The checkpoint worker copies the log; this connection does only while that one is silent.
    const afterCommit = checkpointFallbackFor(db, heartbeat);
    commit = (rows) => {
      const outcomes = commitBatch(db, insert, rows);
      afterCommit();
      return outcomes;
    };
  } catch (error) {
    const reason = `ledger writer cannot open: ${messageOf(error)}`;
    commit = (rows) => rows.map(() => ({ error: reason }));
  }
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
      if (!outcomes.every((o) => o === "added")) {
        // Counted before the ack moves past these rows: see MIXED.
        Atomics.add(acks, MIXED, 1);
        self.postMessage({ seqs, outcomes } satisfies CommitDetails);
      }
      Atomics.store(acks, ACK, (seqs[seqs.length - 1] + 1) | 0);
      Atomics.notify(acks, ACK);
    } else if (ring.closed) {
      return;
    }
    ring.wait(SLEEP_MS);
  }
};

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
