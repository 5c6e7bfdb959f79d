/**
 * The PostgreSQL ledger against a real server (Debian's package, started here on a free loopback
 * port): replicas sharing one database, an outage under appends, idempotent replays, migrations,
 * and the same answers as the SQLite ledger for the same rows.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import client from "prom-client";
import { migratePostgres, openPostgresLedger } from "../../src/ledger/postgres.ts";
import { type Ledger, type LedgerOptions, openSqliteLedger } from "../../src/ledger/ledger.ts";
import { MIGRATIONS } from "../../src/ledger/schema.ts";
import type { LedgerRow } from "../../src/ledger/row.ts";
import { registerLedgerMetrics } from "../../src/telemetry/metrics.ts";
import { type PostgresServer, startPostgres } from "../helpers/postgres.ts";
import { eventually } from "../helpers/poll.ts";
import { find, parseExposition } from "../helpers/prom.ts";
import { makeRow, scanned } from "./fixtures.ts";

const NOVEMBER = { fromMs: Date.UTC(2026, 10, 1), toMs: Date.UTC(2026, 11, 1) };
const OUTAGE_MS = 10_000;

/** A fresh database on the server and a way to open ledger replicas on it, all closed at the end. */
async function database(server: PostgresServer, name: string) {
  const admin = postgres(server.url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = server.url.replace(/\/postgres$/, `/${name}`);
  const dir = await Deno.makeTempDir({ prefix: "ict-outbox-" });
  const open: Ledger[] = [];
  let n = 0;
  return {
    url,
    open(options: LedgerOptions = {}): Ledger {
      const ledger = openPostgresLedger(
        { kind: "postgres", url, outboxPath: `${dir}/outbox-${n++}.sqlite`, sync: "normal" },
        options,
      );
      open.push(ledger);
      return ledger;
    },
    async close() {
      await Promise.all(open.map((l) => l.close().catch(() => {})));
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function shipped(ledgers: Ledger[], deadline = Date.now() + 30_000) {
  await eventually(
    "outboxes empty",
    deadline,
    () => Promise.resolve(ledgers.every((l) => l.backlog() === 0) ? true : undefined),
    50,
  );
}

async function countRows(url: string): Promise<{ rows: number; distinct: number }> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [r] = await sql.unsafe(
      "SELECT count(*) AS rows, count(DISTINCT request_id) AS distinct FROM ledger",
    );
    return { rows: Number(r.rows), distinct: Number(r.distinct) };
  } finally {
    await sql.end();
  }
}

const sumCost = (rows: LedgerRow[]) => rows.reduce((s, r) => s + (r.costPico ?? 0n), 0n);

Deno.test({
  name: "postgres ledger",
  // postgres.js keeps a socket per pooled connection until `end()`; each step closes its own.
  sanitizeResources: true,
  async fn(t) {
    const server = await startPostgres();
    try {
      await t.step(
        "three replicas on one database: every row reaches it once, any replica reports the total",
        async () => {
          const db = await database(server, "replicas");
          try {
            const replicas = [db.open(), db.open(), db.open()];
            const rows = Array.from(
              { length: 900 },
              (_, i) =>
                makeRow({
                  ts: NOVEMBER.fromMs + i * 1000,
                  tenant: ["team-a", "team-b", "other"][i % 3],
                }),
            );
            await Promise.all(rows.map((r, i) => replicas[i % 3].append(r)));
            await shipped(replicas);
            assert.deepEqual(await countRows(db.url), { rows: 900, distinct: 900 });
            for (const replica of replicas) {
              const report = await replica.report({ ...NOVEMBER, groupBy: ["tenant"] });
              assert.equal(report.total.costPico, sumCost(rows));
              assert.equal(report.total.requests, 900n);
              assert.deepEqual(report.groups.map((g) => g.keys.tenant), [
                "other",
                "team-a",
                "team-b",
              ]);
            }
          } finally {
            await db.close();
          }
        },
      );

      await t.step(
        `an outage of ${OUTAGE_MS / 1000} s under appends delays rows and loses none`,
        async () => {
          const db = await database(server, "outage");
          const registry = new client.Registry<client.OpenMetricsContentType>();
          registry.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);
          const metrics = registerLedgerMetrics(registry);
          try {
            const replicas = [db.open({ metrics }), db.open()];
            const rows: LedgerRow[] = [];
            const appendBurst = async (n: number) => {
              const burst = Array.from(
                { length: n },
                () => makeRow({ ts: NOVEMBER.fromMs + rows.length }),
              );
              rows.push(...burst);
              await Promise.all(burst.map((r, i) => replicas[i % 2].append(r)));
            };
            await appendBurst(100);
            await shipped(replicas);
            await server.stop();
            const outageEnds = Date.now() + OUTAGE_MS;
            // Appends keep resolving while the database is down: they are durable in the outbox.
            while (Date.now() < outageEnds) {
              await appendBurst(50);
              await new Promise((r) => setTimeout(r, 100));
            }
            const waiting = replicas[0].backlog() + replicas[1].backlog();
            assert.ok(
              waiting >= rows.length - 100 - 100,
              `backlog ${waiting} holds the outage's rows`,
            );
            const backlogMetric = find(
              parseExposition(await registry.metrics()),
              "inference_ledger_outbox_backlog",
            );
            assert.equal(backlogMetric[0].value, replicas[0].backlog());
            await assert.rejects(replicas[0].report({ ...NOVEMBER, groupBy: [] }));
            await server.start();
            // Rows flow again within seconds of the database's return, not after a long backoff.
            await shipped(replicas, Date.now() + 10_000);
            assert.deepEqual(await countRows(db.url), { rows: rows.length, distinct: rows.length });
            const report = await replicas[1].report({ ...NOVEMBER, groupBy: [] });
            assert.equal(report.total.costPico, sumCost(rows));
            const after = parseExposition(await registry.metrics());
            assert.equal(find(after, "inference_ledger_outbox_backlog")[0].value, 0);
            // Replica 0 wrote (and shipped) every other row; none is counted twice.
            const own = rows.filter((_, i) => i % 2 === 0).length;
            assert.equal(find(after, "inference_ledger_rows_written_total")[0].value, own);
            assert.equal(find(after, "inference_ledger_rows_shipped_total")[0].value, own);
          } finally {
            await server.start();
            await db.close();
          }
        },
      );

      await t.step(
        "a burst of appends awaited back to back ships every row once and never stalls the event loop",
        async () => {
          const db = await database(server, "burst");
          const registry = new client.Registry<client.OpenMetricsContentType>();
          registry.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);
          const metrics = registerLedgerMetrics(registry);
          // A timer that stops firing means the event loop stalled (the shipper once spun on an
          // outbox count that ran ahead of the file).
          let last = performance.now();
          let longestGapMs = 0;
          const tick = setInterval(() => {
            const now = performance.now();
            longestGapMs = Math.max(longestGapMs, now - last);
            last = now;
          }, 10);
          try {
            const ledger = db.open({ metrics });
            const rows: LedgerRow[] = [];
            const until = Date.now() + 4_000;
            await Promise.all(Array.from({ length: 8 }, async () => {
              while (Date.now() < until) {
                const row = makeRow({ ts: NOVEMBER.fromMs + rows.length });
                rows.push(row);
                await ledger.append(row);
              }
            }));
            await shipped([ledger]);
            assert.ok(rows.length > 500, `only ${rows.length} appends in 4 s`);
            assert.deepEqual(await countRows(db.url), { rows: rows.length, distinct: rows.length });
            const exposition = parseExposition(await registry.metrics());
            assert.equal(find(exposition, "inference_ledger_outbox_backlog")[0].value, 0);
            assert.equal(
              find(exposition, "inference_ledger_rows_shipped_total")[0].value,
              rows.length,
            );
            assert.ok(
              longestGapMs < 1_000,
              `the event loop stalled for ${longestGapMs.toFixed(0)} ms`,
            );
          } finally {
            clearInterval(tick);
            await db.close();
          }
        },
      );

      await t.step(
        "replays are idempotent: the same rows from two replicas, or shipped twice, count once",
        async () => {
          const db = await database(server, "replay");
          try {
            const [a, b] = [db.open(), db.open()];
            const rows = Array.from({ length: 50 }, (_, i) => makeRow({ ts: NOVEMBER.fromMs + i }));
            await Promise.all(rows.flatMap((r) => [a.append(r), b.append(r), a.append(r)]));
            await shipped([a, b]);
            // A batch whose outbox delete was lost (a crash after PostgreSQL's commit) ships again.
            const again = db.open();
            await Promise.all(rows.slice(0, 10).map((r) => again.append(r)));
            await shipped([again]);
            assert.deepEqual(await countRows(db.url), { rows: 50, distinct: 50 });
            assert.equal(
              (await a.report({ ...NOVEMBER, groupBy: [] })).total.costPico,
              sumCost(rows),
            );
          } finally {
            await db.close();
          }
        },
      );

      await t.step(
        "rows left in the outbox when a replica stops during an outage ship at its next start",
        async () => {
          const db = await database(server, "restart");
          const outbox = await Deno.makeTempFile({ suffix: ".sqlite" });
          try {
            const config = {
              kind: "postgres" as const,
              url: db.url,
              outboxPath: outbox,
              sync: "normal" as const,
            };
            const warmUp = openPostgresLedger(config);
            await warmUp.report({ ...NOVEMBER, groupBy: [] });
            await server.stop();
            const rows = Array.from({ length: 30 }, (_, i) => makeRow({ ts: NOVEMBER.fromMs + i }));
            await Promise.all(rows.map((r) => warmUp.append(r)));
            assert.equal(warmUp.backlog(), 30);
            await warmUp.close();
            await server.start();
            const next = openPostgresLedger(config);
            try {
              assert.equal(next.backlog(), 30);
              await shipped([next]);
              assert.deepEqual(await countRows(db.url), { rows: 30, distinct: 30 });
            } finally {
              await next.close();
            }
          } finally {
            await server.start();
            await Deno.remove(outbox).catch(() => {});
            await Deno.remove(`${outbox}-wal`).catch(() => {});
            await Deno.remove(`${outbox}-shm`).catch(() => {});
            await db.close();
          }
        },
      );

      await t.step(
        "queries give the same answers as the SQLite ledger for the same rows",
        async () => {
          const db = await database(server, "parity");
          const sqlite = openSqliteLedger(":memory:", "normal");
          try {
            const pg = db.open();
            const huge = 4_000_000_000_000_000_001n;
            const rows = [
              ...Array.from({ length: 200 }, (_, i) =>
                makeRow({
                  ts: NOVEMBER.fromMs + i * 3_600_000 * 3,
                  tenant: ["team-a", "team-b"][i % 2],
                  model: ["gpt-4o", "gpt-4o-mini", "unknown"][i % 3],
                  keyName: i % 4 ? "ci" : null,
                  endUser: i % 5 ? `u${i % 7}` : null,
                  status: i % 11 ? "ok" : "rate_limited",
                  unpriced: i % 13 === 0,
                })),
              ...Array.from({ length: 3 }, () =>
                makeRow({
                  ts: NOVEMBER.fromMs + 5,
                  kindCosts: {
                    input: huge,
                    cached_input: 1n,
                    cache_write_5m: 0n,
                    cache_write_1h: 0n,
                    output: 0n,
                  },
                })),
            ];
            for (const ledger of [pg, sqlite]) await Promise.all(rows.map((r) => ledger.append(r)));
            await shipped([pg]);
            for (
              const groupBy of [[], ["tenant", "model"], ["day", "key", "user"], [
                "hour",
                "route",
              ]] as const
            ) {
              assert.deepEqual(
                await pg.report({ ...NOVEMBER, groupBy }),
                await sqlite.report({ ...NOVEMBER, groupBy }),
                groupBy.join(","),
              );
            }
            const filtered = { ...NOVEMBER, tenant: "team-b", model: "gpt-4o", groupBy: [] };
            assert.deepEqual(await pg.report(filtered), await sqlite.report(filtered));
            assert.deepEqual(
              await pg.page({ ...NOVEMBER, limit: 25 }),
              await sqlite.page({ ...NOVEMBER, limit: 25 }),
            );
            assert.deepEqual(
              await scanned(pg.scan(NOVEMBER)),
              await scanned(sqlite.scan(NOVEMBER)),
            );
            assert.deepEqual(await pg.record(rows[7].requestId), rows[7]);
            const now = NOVEMBER.fromMs + 20 * 86_400_000 + 3_600_000 * 5;
            assert.deepEqual(await pg.windowSpend(now), await sqlite.windowSpend(now));
            for (const tenant of [undefined, "team-b"]) {
              const query = { now: new Date(now), tenant, recentLimit: 20 };
              assert.deepEqual(await pg.summary(query), await sqlite.summary(query));
            }
          } finally {
            await sqlite.close();
            await db.close();
          }
        },
      );

      await t.step("retention prunes the shared database", async () => {
        const db = await database(server, "retention");
        try {
          const now = NOVEMBER.toMs;
          const ledger = db.open({ retentionDays: 10, now: () => now });
          const old = Array.from(
            { length: 40 },
            (_, i) => makeRow({ ts: now - 10 * 86_400_000 - 1 - i }),
          );
          const kept = makeRow({ ts: now - 10 * 86_400_000 });
          await Promise.all([...old, kept].map((r) => ledger.append(r)));
          await shipped([ledger]);
          await eventually("pruned", Date.now() + 10_000, async () => {
            await ledger.prune(now);
            const { rows } = await countRows(db.url);
            return rows === 1 ? true : undefined;
          });
          assert.ok(await ledger.record(kept.requestId));
        } finally {
          await db.close();
        }
      });

      await t.step(
        "a database at schema v1 is migrated in place, keeping its rows; replicas migrate once",
        async () => {
          const db = await database(server, "migrate");
          const sql = postgres(db.url, { max: 1, onnotice: () => {} });
          try {
            await migratePostgres(sql, MIGRATIONS.slice(0, 1));
            await sql.unsafe(
              `INSERT INTO ledger (request_id, ts, tenant, model, request_model, provider, route, operation,
              status, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, cost_pico,
              input_cost_pico, cached_input_cost_pico, cache_write_cost_pico, output_cost_pico, unpriced,
              usage_source, pricing_version)
             VALUES ('old-1', $1, 'team-a', 'gpt-4o-mini', 'gpt-4o-mini', 'simulated', '/v1/inference',
              'text_completion', 'ok', 100, 10, 20, 5, 14250000, 10500000, 750000, 3750000, 3000000, 0,
              'estimated', '2025-01')`,
              [NOVEMBER.fromMs],
            );
            const replicas = [db.open(), db.open(), db.open()];
            const reports = await Promise.all(
              replicas.map((r) => r.report({ ...NOVEMBER, groupBy: [] })),
            );
            for (const report of reports) assert.equal(report.total.costPico, 14_250_000n);
            const old = await replicas[0].record("old-1");
            assert.equal(old?.cacheWrite5mTokens, 20);
            assert.equal(old?.kindCosts?.cache_write_1h, 0n);
            const versions = await sql.unsafe(
              "SELECT version FROM schema_migrations ORDER BY version",
            );
            assert.deepEqual(
              versions.map((v) => Number(v.version)),
              MIGRATIONS.map((m) => m.version),
            );
          } finally {
            await sql.end();
            await db.close();
          }
        },
      );
    } finally {
      await server.destroy();
    }
  },
});
