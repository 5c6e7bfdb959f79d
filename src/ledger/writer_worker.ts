/**
 * The worker half of {@link WorkerWriter}: its own connection to the ledger file, committing
 * each batch the main thread sends in one transaction and answering with every row's outcome.
 */
/// <reference lib="deno.worker" />
import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  commitBatch,
  type OpenWriter,
  prepareInsert,
  type WriteRequest,
  type WriteResponse,
} from "./writer.ts";

let db: DatabaseSync | undefined;
let insert: StatementSync | undefined;

self.onmessage = (event: MessageEvent<WriteRequest | OpenWriter>) => {
  const request = event.data;
  let response: WriteResponse;
  try {
    if ("path" in request) {
      db = new DatabaseSync(request.path);
      // The file's WAL mode is persistent; synchronous and the lock wait are per connection.
      db.exec(`PRAGMA synchronous = ${request.sync === "full" ? "FULL" : "NORMAL"}`);
      db.exec("PRAGMA busy_timeout = 5000");
      insert = prepareInsert(db);
      return;
    }
    if (!db || !insert) throw new Error("ledger writer is not open");
    response = { id: request.id, outcomes: commitBatch(db, insert, request.rows) };
  } catch (error) {
    response = { id: request.id, error: error instanceof Error ? error.message : String(error) };
  }
  self.postMessage(response);
};
