import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import client from "prom-client";
import { openSqliteLedger } from "../../src/ledger/ledger.ts";
import { LedgerSchemaError, openSqliteFile, sqliteSchemaVersion } from "../../src/ledger/sqlite.ts";
import { MIGRATIONS } from "../../src/ledger/schema.ts";
import {
  CheckpointFallback,
  FALLBACK_AUTOCHECKPOINT_FRAMES,
  GroupCommitWriter,
  HEARTBEAT_STALE_MS,
  RESTART_FRAMES,
  type RowWriter,
  WorkerWriter,
} from "../../src/ledger/writer.ts";
import { registerLedgerMetrics } from "../../src/telemetry/metrics.ts";
import { find, parseExposition } from "../helpers/prom.ts";
import { makeRow, tempLedger } from "./fixtures.ts";

function freshMetrics() {
  const registry = new client.Registry<client.OpenMetricsContentType>();
  registry.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);
  return { registry, metrics: registerLedgerMetrics(registry) };
}

async function metricValue(
  registry: client.Registry<client.OpenMetricsContentType>,
  name: string,
): Promise<number> {
  const samples = find(parseExposition(await registry.metrics()), name);
  return samples.length === 1 ? samples[0].value : NaN;
}

Deno.test("sqlite ledger: the file and its missing parent folders are created, in WAL mode", async () => {
  const { path, cleanup } = await tempLedger();
  try {
    const db = new DatabaseSync(path);
    const mode = db.prepare("PRAGMA journal_mode").get() as { journal_mode: string };
    assert.equal(mode.journal_mode, "wal");
    assert.equal(sqliteSchemaVersion(db), MIGRATIONS.at(-1)!.version);
    db.close();
  } finally {
    await cleanup();
  }
});

Deno.test("sqlite ledger: an appended row reads back field for field once its append resolved", async () => {
  const { ledger, cleanup } = await tempLedger();
  try {
    const row = makeRow({
      keyName: "ci",
      endUser: "user-7",
      cacheWrite1hTokens: 50,
      inputTokens: 1050,
      reasoningTokens: 120,
      serviceTier: "flex",
      priceTier: "long_context",
      traceId: "0af7651916cd43dd8448eb211c80319c",
    });
    await ledger.append(row);
    assert.deepEqual(await ledger.record(row.requestId), row);
    assert.equal(await ledger.record("no-such-id"), null);
  } finally {
    await cleanup();
  }
});

Deno.test("sqlite ledger: a replayed request id is a no-op, counted once", async () => {
  const { registry, metrics } = freshMetrics();
  const { ledger, cleanup } = await tempLedger({ metrics });
  try {
    const row = makeRow();
    await ledger.append(row);
    await ledger.append({ ...row, outputTokens: 999_999 });
    await Promise.all([ledger.append(row), ledger.append(row)]);
    const stored = await ledger.record(row.requestId);
    assert.equal(stored?.outputTokens, row.outputTokens);
    assert.equal(await metricValue(registry, "inference_ledger_rows_written_total"), 1);
    assert.equal(
      await metricValue(registry, "inference_ledger_cost_usd_total"),
      Number(row.costPico) / 1e12,
    );
  } finally {
    await cleanup();
  }
});

Deno.test("group commit: appends made in one turn share one transaction and all resolve after it", async () => {
  const db = openSqliteFile(":memory:", "normal");
  const commits: number[] = [];
  const writer = new GroupCommitWriter(db, undefined, (added) => commits.push(added));
  try {
    const first = Array.from({ length: 100 }, () => writer.append(makeRow()));
    assert.deepEqual(commits, [], "nothing is committed before the turn ends");
    await Promise.all(first);
    assert.deepEqual(commits, [100]);
    const count = db.prepare("SELECT count(*) AS n FROM ledger").get() as { n: number };
    assert.equal(count.n, 100);
    await Promise.all([writer.append(makeRow()), writer.append(makeRow())]);
    assert.deepEqual(commits, [100, 2]);
  } finally {
    await writer.close();
    db.close();
  }
});

Deno.test("group commit: an invalid row is rejected alone and counted; its batch still commits", async () => {
  const { registry, metrics } = freshMetrics();
  const { ledger, cleanup } = await tempLedger({ metrics });
  try {
    const good = makeRow();
    const bad = { ...makeRow(), outputTokens: -1 };
    const results = await Promise.allSettled([ledger.append(good), ledger.append(bad)]);
    assert.equal(results[0].status, "fulfilled");
    assert.equal(results[1].status, "rejected");
    assert.match(String((results[1] as PromiseRejectedResult).reason), /outputTokens/);
    assert.ok(await ledger.record(good.requestId));
    assert.equal(await metricValue(registry, "inference_ledger_write_errors_total"), 1);
    assert.equal(await metricValue(registry, "inference_ledger_rows_written_total"), 1);
    assert.equal(await metricValue(registry, "inference_ledger_outbox_backlog"), 0);
  } finally {
    await cleanup();
  }
});

Deno.test("group commit: a failing commit rejects the appends and counts write errors", async () => {
  const { registry, metrics } = freshMetrics();
  const db = openSqliteFile(":memory:", "normal");
  const writer = new GroupCommitWriter(db, metrics);
  try {
    // A table that refuses every insert makes each commit fail, as a full disk would.
    db.exec("DROP TABLE ledger");
    db.exec("CREATE TABLE ledger (request_id TEXT PRIMARY KEY CHECK (0))");
    const results = await Promise.allSettled([writer.append(makeRow()), writer.append(makeRow())]);
    assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
    assert.equal(await metricValue(registry, "inference_ledger_write_errors_total"), 2);
  } finally {
    await writer.close();
    db.close();
  }
});

Deno.test("worker writer: a row is committed, and readable from another connection, when its append resolves", async () => {
  const { registry, metrics } = freshMetrics();
  const dir = await Deno.makeTempDir();
  const path = `${dir}/ledger.sqlite`;
  const file = openSqliteFile(path, "normal");
  const commits: number[] = [];
  const writer = new WorkerWriter(path, "normal", metrics, (added) => commits.push(added));
  const other = new DatabaseSync(path);
  const count = () => (other.prepare("SELECT count(*) AS n FROM ledger").get() as { n: number }).n;
  try {
    const rows = Array.from({ length: 50 }, () => makeRow());
    const appends = rows.map((r) => writer.append(r));
    assert.deepEqual(commits, [], "nothing is committed before the turn ends");
    await Promise.all(appends);
    assert.equal(count(), 50);
    assert.deepEqual(commits, [50], "appends of one turn share one transaction");
    await writer.append(rows[0]);
    assert.equal(count(), 50, "a replay adds nothing");
    assert.equal(await metricValue(registry, "inference_ledger_rows_written_total"), 50);
    const pico = rows.reduce((sum, r) => sum + r.costPico!, 0n);
    assert.equal(
      await metricValue(registry, "inference_ledger_cost_usd_total"),
      Number(pico) / 1e12,
    );
  } finally {
    await writer.close();
    other.close();
    file.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("worker writer: fresh rows, replays and refused rows mixed over many turns each settle with their own outcome", async () => {
  const { registry, metrics } = freshMetrics();
  const dir = await Deno.makeTempDir();
  const path = `${dir}/ledger.sqlite`;
  const file = openSqliteFile(path, "normal");
  // Rows of this tenant fail, as a constraint would: their commits report mixed outcomes.
  file.exec(
    "CREATE TRIGGER refuse BEFORE INSERT ON ledger WHEN NEW.tenant = 'refused' BEGIN SELECT RAISE(ABORT, 'refused'); END",
  );
  const added: number[] = [];
  const writer = new WorkerWriter(path, "normal", metrics, (n) => added.push(n));
  const other = new DatabaseSync(path);
  const stored = other.prepare("SELECT count(*) AS n FROM ledger WHERE request_id = ?");
  // A seeded generator, so a failure replays the same turns.
  let seed = 20261205;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const fresh: string[] = [];
  const checks: Promise<void>[] = [];
  let refused = 0;
  try {
    for (let turn = 0; turn < 60; turn++) {
      const size = 1 + Math.floor(random() * 12);
      for (let i = 0; i < size; i++) {
        const pick = random();
        if (pick < 0.2 && fresh.length > 0) {
          // A replay of an earlier row (possibly of this very turn): resolves, adds nothing.
          const id = fresh[Math.floor(random() * fresh.length)];
          checks.push(writer.append(makeRow({ requestId: id })));
        } else if (pick < 0.3) {
          refused++;
          checks.push(
            assert.rejects(writer.append(makeRow({ tenant: "refused" })), /refused/),
          );
        } else {
          const row = makeRow();
          fresh.push(row.requestId);
          checks.push(
            writer.append(row).then(() => {
              const { n } = stored.get(row.requestId) as { n: number };
              assert.equal(n, 1, "a resolved append's row is committed");
            }),
          );
        }
      }
      // Let some turns' rows share a commit and others not.
      if (random() < 0.5) await new Promise((resolve) => setTimeout(resolve, random() * 3));
    }
    await Promise.all(checks);
    assert.ok(refused > 0 && fresh.length > 100, "the mix has every kind of row");
    const total = (other.prepare("SELECT count(*) AS n FROM ledger").get() as { n: number }).n;
    assert.equal(total, fresh.length);
    assert.equal(added.reduce((a, b) => a + b, 0), fresh.length);
    assert.equal(await metricValue(registry, "inference_ledger_rows_written_total"), fresh.length);
    assert.equal(await metricValue(registry, "inference_ledger_write_errors_total"), refused);
  } finally {
    await writer.close();
    other.close();
    file.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("worker writer: close waits for the rows in flight, then refuses more", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/ledger.sqlite`;
  const file = openSqliteFile(path, "normal");
  const writer = new WorkerWriter(path, "normal", undefined);
  try {
    const appends = Array.from({ length: 500 }, () => writer.append(makeRow()));
    await writer.close();
    const settled = await Promise.allSettled(appends);
    assert.ok(settled.every((r) => r.status === "fulfilled"));
    const n = (file.prepare("SELECT count(*) AS n FROM ledger").get() as { n: number }).n;
    assert.equal(n, 500);
    await assert.rejects(writer.append(makeRow()), /closed/);
  } finally {
    file.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("worker writer: a failing commit rejects the appends with SQLite's reason and counts write errors", async () => {
  const { registry, metrics } = freshMetrics();
  const dir = await Deno.makeTempDir();
  const path = `${dir}/ledger.sqlite`;
  const file = openSqliteFile(path, "normal");
  // A trigger that refuses every insert makes each commit fail, as a full disk would, while the
  // worker still opens the file and prepares its statement.
  file.exec(
    "CREATE TRIGGER refuse BEFORE INSERT ON ledger BEGIN SELECT RAISE(ABORT, 'refused'); END",
  );
  const writer = new WorkerWriter(path, "normal", metrics);
  try {
    const results = await Promise.allSettled([writer.append(makeRow()), writer.append(makeRow())]);
    assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
    for (const result of results) {
      assert.match(String((result as PromiseRejectedResult).reason), /refused/);
    }
    assert.equal(await metricValue(registry, "inference_ledger_write_errors_total"), 2);
    assert.equal(await metricValue(registry, "inference_ledger_rows_written_total"), 0);
  } finally {
    await writer.close();
    file.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("worker writer: a file the worker cannot open rejects every append, counted, without hanging", async () => {
  const { registry, metrics } = freshMetrics();
  const dir = await Deno.makeTempDir();
  // A folder is not a database file: the worker's open fails.
  const writer = new WorkerWriter(dir, "normal", metrics);
  try {
    const results = await Promise.allSettled([writer.append(makeRow()), writer.append(makeRow())]);
    assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
    assert.match(String((results[0] as PromiseRejectedResult).reason), /ledger writer/);
    assert.equal(await metricValue(registry, "inference_ledger_write_errors_total"), 2);
  } finally {
    await writer.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** The WAL file's size and its checkpoint sequence (bumped each time the log starts over). */
function walState(path: string): { bytes: number; restarts: number } {
  const file = Deno.openSync(`${path}-wal`);
  try {
    const header = new Uint8Array(32);
    const read = file.readSync(header) ?? 0;
    const restarts = read === 32 ? new DataView(header.buffer).getUint32(12) : 0;
    return { bytes: file.statSync().size, restarts };
  } finally {
    file.close();
  }
}

/**
 * Under steady commits of `writer`, the checkpoint worker copies the log beside it and starts it
 * over, also after a long reader.
 */
async function checkpointsBesideTheWriter(
  writerFor: (file: DatabaseSync, path: string) => RowWriter,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/ledger.sqlite`;
  const file = openSqliteFile(path, "normal");
  const writer = writerFor(file, path);
  const other = new DatabaseSync(path);
  const count = () => (other.prepare("SELECT count(*) AS n FROM ledger").get() as { n: number }).n;
  let maxBytes = 0;
  // Two commits of one row each a millisecond or so, a few pages each (here ~5,000 pages, 20 MiB
  // of log, a second), until the log has started over `restarts` times or `ms` have passed.
  // SQLite's own checkpoint, left to the writer, would start it over only at 64 MiB.
  const commitUntil = async (restarts: number, ms: number) => {
    const end = performance.now() + ms;
    for (let turn = 0; performance.now() < end; turn++) {
      await writer.append(makeRow());
      await writer.append(makeRow());
      if (turn % 20 === 0) {
        const wal = walState(path);
        maxBytes = Math.max(maxBytes, wal.bytes);
        if (wal.restarts >= restarts) return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  };
  try {
    const start = walState(path).restarts;
    await commitUntil(start + 3, 15_000);
    const steady = walState(path).restarts;
    assert.ok(steady - start >= 3, `the log started over ${steady - start} times in 15 s`);
    assert.ok(maxBytes < 40 * 2 ** 20, `the log grew to ${maxBytes} bytes`);
    // The writer left the checkpoints to the worker: SQLite's own, in the commits, would have
    // started the log over at 1,000 pages (about 4 MiB).
    assert.ok(maxBytes >= RESTART_FRAMES * 4096, `the log reached only ${maxBytes} bytes`);

    // A reader on an old snapshot: the log cannot start over under it, and commits go on.
    other.exec("BEGIN");
    const before = count();
    const held = walState(path).restarts;
    await commitUntil(held + 1, 500);
    assert.equal(count(), before, "the reader still sees its snapshot");
    // Once at most: a reader that began while every page was copied reads the file alone.
    assert.ok(walState(path).restarts <= held + 1, "not started over and over under the reader");
    other.exec("COMMIT");
    assert.ok(count() > before, "commits went on beside the reader");
    // Once it has gone, the log is started over again.
    await commitUntil(held + 1, 15_000);
    assert.ok(walState(path).restarts > held, "the log starts over again after the reader");
  } finally {
    await writer.close();
    other.close();
    file.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("worker writer: under steady commits the log is checkpointed beside the writer and started over, also after a long reader", () =>
  checkpointsBesideTheWriter((_, path) => new WorkerWriter(path, "normal", undefined)));

Deno.test("one-CPU writer: its commits on this thread leave the log's checkpoints to the checkpoint worker, also after a long reader", () =>
  checkpointsBesideTheWriter((file, path) =>
    new GroupCommitWriter(file, undefined, undefined, path)
  ));

Deno.test("checkpoint fallback: the writer stops checkpointing at the first beat and takes it back when the beats stop", () => {
  const stale = HEARTBEAT_STALE_MS;
  const fallback = new CheckpointFallback(0, 7);
  // No beat yet: the writer keeps SQLite's own checkpoints, at every look.
  assert.equal(fallback.next(10, 7), undefined);
  assert.equal(fallback.next(stale + 10, 7), undefined);
  // The first beat turns them off at once, not at the next scheduled look.
  assert.equal(fallback.next(stale + 20, 8), 0);
  // While the beats go on nothing changes; between looks nothing is read.
  assert.equal(fallback.next(stale + 30, 8), undefined);
  assert.equal(fallback.next(2 * stale + 20, 12), undefined);
  assert.equal(fallback.next(2 * stale + 25, 12), undefined);
  // A look that finds no beat since the last one: the writer checkpoints again.
  assert.equal(fallback.next(3 * stale + 20, 12), FALLBACK_AUTOCHECKPOINT_FRAMES);
  assert.equal(fallback.next(3 * stale + 30, 12), undefined);
  // And hands them back as soon as the beats resume, wrapping counter and all.
  assert.equal(fallback.next(3 * stale + 40, -2147483648), 0);
});

Deno.test("sqlite ledger: rows survive closing and reopening the file", async () => {
  const { ledger, path, cleanup } = await tempLedger();
  try {
    const rows = Array.from({ length: 25 }, () => makeRow());
    await Promise.all(rows.map((r) => ledger.append(r)));
    const reopened = openSqliteLedger(path, "normal");
    for (const r of rows) assert.deepEqual(await reopened.record(r.requestId), r);
    await reopened.close();
  } finally {
    await cleanup();
  }
});

Deno.test("sqlite ledger: a file of schema v1 is migrated to the latest without losing a row", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ledger.sqlite`;
    const v1 = openSqliteFile(path, "normal", MIGRATIONS.slice(0, 1));
    assert.equal(sqliteSchemaVersion(v1), 1);
    const insert = v1.prepare(
      `INSERT INTO ledger (request_id, ts, tenant, model, request_model, provider, route, operation,
        status, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, cost_pico,
        input_cost_pico, cached_input_cost_pico, cache_write_cost_pico, output_cost_pico, unpriced,
        usage_source, pricing_version)
       VALUES (?, ?, 'team-a', 'gpt-4o-mini', 'gpt-4o-mini', 'simulated', '/v1/inference',
        'text_completion', 'ok', 100, 10, 20, 5, ?, ?, ?, ?, ?, 0, 'estimated', '2025-01')`,
    );
    insert.run("old-1", 1_000, 14_250_000n, 10_500_000n, 750_000n, 3_750_000n, 3_000_000n);
    insert.run("old-2", 2_000, 14_250_000n, 10_500_000n, 750_000n, 3_750_000n, 3_000_000n);
    v1.close();

    const ledger = openSqliteLedger(path, "normal");
    const old = await ledger.record("old-1");
    assert.deepEqual(
      {
        cacheWrite5mTokens: old?.cacheWrite5mTokens,
        cacheWrite1hTokens: old?.cacheWrite1hTokens,
        reasoningTokens: old?.reasoningTokens,
        costPico: old?.costPico,
        kindCosts: old?.kindCosts,
      },
      {
        cacheWrite5mTokens: 20,
        cacheWrite1hTokens: 0,
        reasoningTokens: 0,
        costPico: 14_250_000n,
        kindCosts: {
          input: 10_500_000n,
          cached_input: 750_000n,
          cache_write_5m: 3_750_000n,
          cache_write_1h: 0n,
          output: 3_000_000n,
        },
      },
    );
    assert.ok(await ledger.record("old-2"));
    const row = makeRow({ cacheWrite1hTokens: 7, inputTokens: 1007 });
    await ledger.append(row);
    assert.deepEqual(await ledger.record(row.requestId), row);
    await ledger.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqlite ledger: a file from a newer server is refused, not rewritten", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ledger.sqlite`;
    openSqliteFile(path, "normal").close();
    const db = new DatabaseSync(path);
    db.exec("INSERT INTO schema_migrations VALUES (99, 'from the future', 0)");
    db.close();
    assert.throws(() => openSqliteFile(path, "normal"), LedgerSchemaError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqlite ledger: LEDGER_SYNC chooses synchronous NORMAL (1) or FULL (2)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const [sync, level] of [["normal", 1], ["full", 2]] as const) {
      const db = openSqliteFile(`${dir}/${sync}.sqlite`, sync);
      assert.deepEqual({ ...db.prepare("PRAGMA synchronous").get() }, { synchronous: level });
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
