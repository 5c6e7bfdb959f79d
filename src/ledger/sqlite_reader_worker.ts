/**
 * The worker half of the SQLite reader: its own connection to the ledger file, answering the
 * main thread's queries, so that a month's report or an export over millions of rows never blocks
 * the server's event loop (WAL lets this reader run beside the writer).
 */
/// <reference lib="deno.worker" />
import { DatabaseSync } from "node:sqlite";
import { sqliteDb } from "./sqlite.ts";
import type { ReaderRequest, ReaderResponse } from "./sqlite_reader.ts";

let db: ReturnType<typeof sqliteDb> | undefined;

self.onmessage = async (event: MessageEvent<ReaderRequest>) => {
  const request = event.data;
  let response: ReaderResponse;
  try {
    if (request.op === "open") {
      const file = new DatabaseSync(request.sql);
      file.exec("PRAGMA busy_timeout = 5000");
      db = sqliteDb(file);
      response = { id: request.id, result: null };
    } else {
      if (!db) throw new Error("ledger reader is not open");
      const result = request.op === "values"
        ? await db.values(request.sql, request.params)
        : request.op === "query"
        ? await db.query(request.sql, request.params)
        : await db.execute(request.sql, request.params);
      response = { id: request.id, result };
    }
  } catch (error) {
    response = { id: request.id, error: error instanceof Error ? error.message : String(error) };
  }
  self.postMessage(response);
};
