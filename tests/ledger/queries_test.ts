import assert from "node:assert/strict";
import { windowAt } from "../../src/budgets/windows.ts";
import { BUDGET_WINDOWS } from "../../src/tenants/tenants.ts";
import { windowStartMs } from "../../src/ledger/queries.ts";
import type { SpendQuery } from "../../src/ledger/query.ts";
import { openSqliteLedger } from "../../src/ledger/ledger.ts";
import { eventually } from "../helpers/poll.ts";
import { collect, makeRow, scanned, tempLedger } from "./fixtures.ts";

const NOV = (day: number, hour = 0, minute = 0) => Date.UTC(2026, 10, day, hour, minute);
const all: SpendQuery = { fromMs: NOV(1), toMs: Date.UTC(2026, 11, 1), groupBy: [] };

Deno.test("report: totals count billed and refused requests apart and sum tokens and cost exactly", async () => {
  const { ledger, cleanup } = await tempLedger();
  try {
    const a = makeRow({ ts: NOV(2) });
    const b = makeRow({
      ts: NOV(3),
      cacheWrite1hTokens: 10,
      inputTokens: 1010,
      reasoningTokens: 40,
    });
    const refused = makeRow({
      ts: NOV(3),
      status: "rate_limited",
      inputTokens: 0,
      cachedInputTokens: 0,
      cacheWrite5mTokens: 0,
      outputTokens: 0,
    });
    const unpriced = makeRow({ ts: NOV(4), unpriced: true, model: "unknown" });
    for (const r of [a, b, refused, unpriced]) await ledger.append(r);
    const report = await ledger.report(all);
    assert.deepEqual(report.total, {
      requests: 3n,
      refusedRequests: 1n,
      unpricedRequests: 1n,
      inputTokens: 3010n,
      cachedInputTokens: 600n,
      cacheWriteTokens: 310n,
      outputTokens: 900n,
      reasoningTokens: 40n,
      costPico: a.costPico! + b.costPico!,
    });
    assert.deepEqual(report.groups, []);
  } finally {
    await cleanup();
  }
});

Deno.test("report: groups by tenant, model, day, hour, key, user and route, in key order", async () => {
  const { ledger, cleanup } = await tempLedger();
  try {
    const rows = [
      makeRow({ ts: NOV(5, 9, 15), tenant: "team-b", keyName: "ci", endUser: "u1" }),
      makeRow({ ts: NOV(5, 9, 45), tenant: "team-a", model: "gpt-4o", route: "/v1/messages" }),
      makeRow({ ts: NOV(6, 23, 59), tenant: "team-a", endUser: "u1" }),
    ];
    for (const r of rows) await ledger.append(r);
    const report = await ledger.report({
      ...all,
      groupBy: ["tenant", "model", "day", "hour", "key", "user", "route"],
    });
    assert.deepEqual(report.groups.map((g) => g.keys), [
      {
        tenant: "team-a",
        model: "gpt-4o",
        day: "2026-11-05",
        hour: "2026-11-05T09:00:00Z",
        key: null,
        user: null,
        route: "/v1/messages",
      },
      {
        tenant: "team-a",
        model: "gpt-4o-mini",
        day: "2026-11-06",
        hour: "2026-11-06T23:00:00Z",
        key: null,
        user: "u1",
        route: "/v1/chat/completions",
      },
      {
        tenant: "team-b",
        model: "gpt-4o-mini",
        day: "2026-11-05",
        hour: "2026-11-05T09:00:00Z",
        key: "ci",
        user: "u1",
        route: "/v1/chat/completions",
      },
    ]);
    const byDay = await ledger.report({ ...all, groupBy: ["day"] });
    assert.deepEqual(
      byDay.groups.map((g) => [g.keys.day, g.totals.requests, g.totals.costPico]),
      [
        ["2026-11-05", 2n, rows[0].costPico! + rows[1].costPico!],
        ["2026-11-06", 1n, rows[2].costPico!],
      ],
    );
  } finally {
    await cleanup();
  }
});

Deno.test("report: the range is half-open [from, to) and tenant and model filter", async () => {
  const { ledger, cleanup } = await tempLedger();
  try {
    await ledger.append(makeRow({ ts: NOV(10) - 1 }));
    await ledger.append(makeRow({ ts: NOV(10), tenant: "team-b" }));
    await ledger.append(makeRow({ ts: NOV(11) - 1, model: "gpt-4o" }));
    await ledger.append(makeRow({ ts: NOV(11) }));
    const day = { fromMs: NOV(10), toMs: NOV(11), groupBy: [] };
    assert.equal((await ledger.report(day)).total.requests, 2n);
    assert.equal((await ledger.report({ ...day, tenant: "team-b" })).total.requests, 1n);
    assert.equal((await ledger.report({ ...day, model: "gpt-4o" })).total.requests, 1n);
    assert.equal((await ledger.report({ ...day, tenant: "nobody" })).total.requests, 0n);
  } finally {
    await cleanup();
  }
});

Deno.test("report: sums past 2^63 picodollars (9.2 million USD) stay exact", async () => {
  const { ledger, cleanup } = await tempLedger();
  try {
    const huge = 9_000_000_000_000_000_123n; // $9,000,000.000000000123 in one request
    const rows = Array.from({ length: 3 }, (_, i) =>
      makeRow({
        ts: NOV(1 + i),
        kindCosts: {
          input: huge,
          cached_input: 0n,
          cache_write_5m: 0n,
          cache_write_1h: 0n,
          output: 7n,
        },
      }));
    for (const r of rows) await ledger.append(r);
    const report = await ledger.report({ ...all, groupBy: ["tenant"] });
    assert.equal(report.total.costPico, 3n * (huge + 7n));
    assert.equal(report.groups[0].totals.costPico, 3n * (huge + 7n));
  } finally {
    await cleanup();
  }
});

Deno.test("records: pages newest first return every row exactly once, and the last page says so", async () => {
  const { ledger, cleanup } = await tempLedger();
  try {
    // Several rows share a millisecond: the request id breaks the tie.
    const rows = Array.from({ length: 53 }, (_, i) => makeRow({ ts: NOV(7) + Math.floor(i / 4) }));
    await Promise.all(rows.map((r) => ledger.append(r)));
    const seen: string[] = [];
    let after = undefined;
    let pages = 0;
    do {
      const page = await ledger.page({ ...all, limit: 10, after });
      seen.push(...page.records.map((r) => r.requestId));
      after = page.next ?? undefined;
      pages++;
    } while (after);
    assert.equal(pages, 6);
    assert.equal(seen.length, 53);
    assert.equal(new Set(seen).size, 53);
    const expected = [...rows].sort((x, y) => y.ts - x.ts || (y.requestId < x.requestId ? -1 : 1))
      .map((r) => r.requestId);
    assert.deepEqual(seen, expected);
  } finally {
    await cleanup();
  }
});

Deno.test("scan: exports read every row of the range oldest first across chunks", async () => {
  const { ledger, cleanup } = await tempLedger();
  try {
    const rows = Array.from({ length: 4500 }, (_, i) => makeRow({ ts: NOV(8) + (i % 1000) }));
    await Promise.all(rows.map((r) => ledger.append(r)));
    await ledger.append(makeRow({ ts: NOV(20) }));
    const chunks = await collect(ledger.scan({ fromMs: NOV(8), toMs: NOV(9) }));
    assert.deepEqual(chunks.map((c) => c.length), [2000, 2000, 500]);
    const read = chunks.flat();
    assert.equal(new Set(read.map((r) => r.requestId)).size, 4500);
    for (let i = 1; i < read.length; i++) assert.ok(read[i - 1].ts <= read[i].ts);
  } finally {
    await cleanup();
  }
});

Deno.test("windowSpend: each tenant's spend in the current hour, day and month", async () => {
  const { ledger, cleanup } = await tempLedger();
  try {
    const now = NOV(25, 14, 30);
    const at = (ts: number, tenant = "team-a") => makeRow({ ts, tenant });
    const rows = [
      at(NOV(25, 14, 5)), // this hour
      at(NOV(25, 13, 59)), // today, earlier hour
      at(NOV(2)), // this month, earlier day
      at(Date.UTC(2026, 9, 31, 23, 59)), // last month: not counted
      at(NOV(25, 14, 1), "team-b"),
    ];
    for (const r of rows) await ledger.append(r);
    const c = (i: number) => rows[i].costPico!;
    const spend = await ledger.windowSpend(now);
    assert.deepEqual(
      Object.fromEntries(spend),
      {
        "team-a": { hour: c(0), day: c(0) + c(1), month: c(0) + c(1) + c(2) },
        "team-b": { hour: c(4), day: c(4), month: c(4) },
      },
    );
  } finally {
    await cleanup();
  }
});

Deno.test("windowStartMs: the same calendar windows as the budget store", () => {
  for (
    const now of [NOV(25, 14, 30), Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2028, 1, 29)]
  ) {
    for (const window of BUDGET_WINDOWS) {
      const start = windowStartMs(window, now);
      assert.equal(windowAt(window, new Date(start)).key, windowAt(window, new Date(now)).key);
      assert.notEqual(
        windowAt(window, new Date(start - 1)).key,
        windowAt(window, new Date(now)).key,
      );
    }
  }
});

Deno.test("retention: at start, rows older than the period are pruned in chunks; the rest stay", async () => {
  const now = NOV(30);
  const cutoff = now - 30 * 86_400_000;
  const { ledger, path, cleanup } = await tempLedger();
  try {
    const old = Array.from({ length: 25_000 }, (_, i) => makeRow({ ts: cutoff - 1 - i }));
    const kept = [makeRow({ ts: cutoff }), makeRow({ ts: now - 1 })];
    await Promise.all([...old, ...kept].map((r) => ledger.append(r)));
    const pruning = openSqliteLedger(path, "normal", { retentionDays: 30, now: () => now });
    try {
      const left = await eventually("old rows pruned", Date.now() + 10_000, async () => {
        const rows = await scanned(pruning.scan({ fromMs: 0, toMs: now }));
        return rows.length === kept.length ? rows : undefined;
      }, 20);
      assert.deepEqual(left.map((r) => r.requestId).sort(), kept.map((r) => r.requestId).sort());
      await pruning.append(makeRow({ ts: cutoff - 1 }));
      assert.equal(await pruning.prune(now), 1);
      assert.equal(await pruning.prune(now), 0);
    } finally {
      await pruning.close();
    }
  } finally {
    await cleanup();
  }
});

Deno.test("retention: without LEDGER_RETENTION_DAYS nothing is ever pruned", async () => {
  const { ledger, cleanup } = await tempLedger();
  try {
    await ledger.append(makeRow({ ts: 1 }));
    assert.equal(await ledger.prune(NOV(30)), 0);
    assert.equal((await scanned(ledger.scan({ fromMs: 0, toMs: NOV(30) }))).length, 1);
  } finally {
    await cleanup();
  }
});
