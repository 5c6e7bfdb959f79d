import assert from "node:assert/strict";
import { openWorkerReader } from "../../src/ledger/sqlite_reader.ts";
import { openSqliteFile, sqliteDb } from "../../src/ledger/sqlite.ts";
import type { SqlDb } from "../../src/ledger/sqlite.ts";

/** A query that keeps SQLite busy for a while without any table. */
const SLOW =
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) AS n FROM c";

/** How many times the event loop got to run a timer while `query` was in flight. */
async function ticksDuring(db: SqlDb): Promise<{ ticks: number; n: unknown }> {
  let ticks = 0;
  let running = true;
  const tick = () => {
    ticks++;
    if (running) setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  const [row] = await db.query(SLOW);
  running = false;
  const counted = ticks;
  await new Promise((r) => setTimeout(r, 5));
  return { ticks: counted, n: row.n };
}

async function withFile(body: (path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ledger.sqlite`;
    openSqliteFile(path, "normal").close();
    await body(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("worker reader: a long query leaves the event loop free; the same on the main thread blocks it", async () => {
  await withFile(async (path) => {
    const reader = openWorkerReader(path);
    try {
      const inWorker = await ticksDuring(reader);
      assert.equal(inWorker.n, 2_000_000n);
      const file = openSqliteFile(path, "normal");
      const onMain = await ticksDuring(sqliteDb(file));
      file.close();
      assert.equal(onMain.ticks, 0);
      assert.ok(inWorker.ticks >= 5, `${inWorker.ticks} timer ticks ran during the worker's query`);
    } finally {
      reader.close();
    }
  });
});

Deno.test("worker reader: an SQL error rejects with its message; after close every call rejects", async () => {
  await withFile(async (path) => {
    const reader = openWorkerReader(path);
    await assert.rejects(reader.query("SELECT * FROM no_such_table"), /no such table/);
    assert.deepEqual(await reader.values("SELECT count(*) FROM ledger"), [[0n]]);
    const pending = reader.query(SLOW);
    reader.close();
    await assert.rejects(pending, /closed/);
    await assert.rejects(reader.query("SELECT 1"), /closed/);
  });
});
