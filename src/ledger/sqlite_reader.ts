/**
 * Reads of a SQLite ledger in a worker thread. SQLite's calls are synchronous: a report over a
 * million rows takes about a second, and on the main thread that second would stall every request
 * the server is serving. The worker holds a second connection to the same file (WAL lets it read
 * while the main thread commits) and answers over messages.
 */
import type { SqlValue } from "./schema.ts";
import type { SqlDb } from "./sqlite.ts";

/** A message to the reader worker; `open` carries the file path in `sql`. */
export interface ReaderRequest {
  readonly id: number;
  readonly op: "open" | "query" | "values" | "execute";
  readonly sql: string;
  readonly params: readonly SqlValue[];
}

/** The worker's answer to a {@link ReaderRequest}. */
export type ReaderResponse =
  | { readonly id: number; readonly result: unknown; readonly error?: undefined }
  | { readonly id: number; readonly error: string };

/** A ledger file's reads, served by a worker; `close()` ends the worker. */
export interface WorkerReader extends SqlDb {
  close(): void;
}

/** Starts a reader worker on the (already created and migrated) ledger file at `path`. */
export function openWorkerReader(path: string): WorkerReader {
  const worker = new Worker(new URL("./sqlite_reader_worker.ts", import.meta.url), {
    type: "module",
  });
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let next = 0;
  let closed = false;
  worker.onmessage = (event: MessageEvent<ReaderResponse>) => {
    const answer = event.data;
    const call = waiting.get(answer.id);
    waiting.delete(answer.id);
    if (answer.error !== undefined) call?.reject(new Error(answer.error));
    else call?.resolve(answer.result);
  };
  const ask = <T>(op: ReaderRequest["op"], sql: string, params: readonly SqlValue[] = []) => {
    if (closed) return Promise.reject(new Error("ledger is closed"));
    const id = next++;
    return new Promise<T>((resolve, reject) => {
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ id, op, sql, params } satisfies ReaderRequest);
    });
  };
  // Queued before any query, so the worker opens the file first; a failure surfaces on use.
  const opened = ask<null>("open", path);
  opened.catch(() => {});
  return {
    dialect: "sqlite",
    query: (sql, params) => opened.then(() => ask("query", sql, params)),
    values: (sql, params) => opened.then(() => ask("values", sql, params)),
    execute: (sql, params) => opened.then(() => ask("execute", sql, params)),
    close() {
      closed = true;
      worker.terminate();
      for (const call of waiting.values()) call.reject(new Error("ledger is closed"));
      waiting.clear();
    },
  };
}
