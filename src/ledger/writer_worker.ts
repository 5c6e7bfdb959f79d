/**
 * The worker half of {@link WorkerWriter}: its own connection to the ledger file. Batches that
 * arrive while it is busy are committed together in one transaction (a commit costs about as much
 * as three more rows in it), then each batch is answered with its rows' outcomes.
 */
/// <reference lib="deno.worker" />
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { setImmediate } from "node:timers";
import {
  commitBatch,
  type OpenWriter,
  prepareInsert,
  type RowOutcome,
  type WriteRequest,
  type WriteResponse,
} from "./writer.ts";

let db: DatabaseSync | undefined;
let insert: StatementSync | undefined;
let queued: WriteRequest[] = [];
let scheduled = false;

self.onmessage = (event: MessageEvent<WriteRequest | OpenWriter>) => {
  const request = event.data;
  if ("path" in request) {
    try {
      db = new DatabaseSync(request.path);
      // The file's WAL mode is persistent; synchronous and the lock wait are per connection.
      db.exec(`PRAGMA synchronous = ${request.sync === "full" ? "FULL" : "NORMAL"}`);
      db.exec("PRAGMA busy_timeout = 5000");
      insert = prepareInsert(db);
    } catch (error) {
      self.postMessage({ id: request.id, error: messageOf(error) } satisfies WriteResponse);
    }
    return;
  }
  queued.push(request);
  if (!scheduled) {
    scheduled = true;
    // After the messages already waiting have been taken in, so they share the commit.
    setImmediate(commitQueued);
  }
};

function commitQueued(): void {
  scheduled = false;
  const requests = queued;
  queued = [];
  if (!db || !insert) {
    for (const { id } of requests) answer({ id, error: "ledger writer is not open" });
    return;
  }
  let outcomes: RowOutcome[];
  try {
    outcomes = commitBatch(db, insert, requests.flatMap((r) => r.rows));
  } catch (error) {
    for (const { id } of requests) answer({ id, error: messageOf(error) });
    return;
  }
  let at = 0;
  for (const { id, rows } of requests) {
    answer({ id, outcomes: outcomes.slice(at, at + rows.length) });
    at += rows.length;
  }
}

function answer(response: WriteResponse): void {
  self.postMessage(response);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
