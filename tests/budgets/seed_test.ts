/**
 * Budgets that survive a restart: the memory store starts from the spend the ledger holds for the
 * current hour, day and month, so a restarted server refuses what the old one would have.
 */
import assert from "node:assert/strict";
import { createMemoryBudgetStore } from "../../src/budgets/memory.ts";
import type { Tenant } from "../../src/tenants/tenants.ts";
import { hashApiKey } from "../../src/tenants/tenants.ts";
import { restoreBudgets } from "../../src/services.ts";
import { testApp } from "../helpers/app.ts";
import { withJsonFile } from "../helpers/files.ts";
import { total } from "../helpers/prom.ts";
import { makeRow, tempLedger } from "../ledger/fixtures.ts";

const USD = 1_000_000_000_000n;
const now = new Date("2026-11-25T14:30:00Z");

Deno.test("a seeded memory store counts the seeded spend against each window's budget", async () => {
  const tenant: Tenant = {
    id: "t",
    hourlyAlertThresholdUsd: 1,
    budgetsPico: { hour: 10n * USD, month: 100n * USD },
  };
  const store = createMemoryBudgetStore();
  store.seed!(new Map([["t", { hour: 4n * USD, day: 30n * USD, month: 95n * USD }]]), now);
  assert.deepEqual(
    await Promise.all((["hour", "day", "month"] as const).map((w) => store.spent("t", w, now))),
    [4n * USD, 30n * USD, 95n * USD],
  );
  // $5 more fits the hour ($9 of $10) and the month ($100 of $100); one picodollar more does not.
  assert.equal((await store.reserve(tenant, 5n * USD + 1n, now)).ok, false);
  const granted = await store.reserve(tenant, 5n * USD, now);
  assert.ok(granted.ok);
  // The next hour starts empty; the month still carries the seed.
  const later = new Date("2026-11-25T15:00:00Z");
  assert.equal(await store.spent("t", "hour", later), 0n);
  assert.equal(await store.spent("t", "month", later), 100n * USD);
});

Deno.test("at start-up the budgets read today's spend from the ledger, so a restart refills nothing", async () => {
  const key = "sk-seed-test";
  const tenants = {
    tenants: [
      {
        id: "team-chat",
        hourly_alert_threshold_usd: 10,
        budgets: { day: "0.01" },
        api_keys: [{ name: "ci", sha256: hashApiKey(key) }],
      },
      { id: "default", hourly_alert_threshold_usd: 10 },
    ],
  };
  const { ledger, cleanup } = await tempLedger();
  try {
    const today = Date.parse("2026-11-25T01:00:00Z");
    // $0.009 spent today by team-chat (in three rows), some yesterday, some by another tenant.
    const spent = (requestId: string, ts: number, tenant: string, pico: bigint) =>
      makeRow({
        requestId,
        ts,
        tenant,
        kindCosts: {
          input: pico,
          cached_input: 0n,
          cache_write_5m: 0n,
          cache_write_1h: 0n,
          output: 0n,
        },
      });
    for (
      const row of [
        spent("a", today, "team-chat", 3_000_000_000n),
        spent("b", today + 1, "team-chat", 3_000_000_000n),
        spent("c", today + 2, "team-chat", 3_000_000_000n),
        spent("d", today - 86_400_000, "team-chat", 50_000_000_000n),
        spent("e", today, "default", 50_000_000_000n),
      ]
    ) await ledger.append(row);

    await withJsonFile(tenants, async (tenantsFile) => {
      const t = testApp({ TENANTS_FILE: tenantsFile }, { ledger, now: () => now });
      assert.equal(await restoreBudgets(t.services), 2);
      const m = await t.metrics();
      assert.equal(
        total(m, "inference_budget_spent_usd", { tenant: "team-chat", window: "day" }),
        0.009,
      );
      // $0.001 is left today: a request whose worst case is more is refused.
      const res = await t.post("/v1/chat/completions", {
        model: "gpt-4o",
        messages: [{ role: "user", content: "hello" }],
        max_tokens: 200,
      }, { authorization: `Bearer ${key}` });
      assert.equal(res.status, 429);
      assert.equal((await res.json()).error.type, "budget_exceeded");
    });
  } finally {
    await cleanup();
  }
});

Deno.test("seeding raises a window to the ledger's spend and never lowers or doubles it", async () => {
  const memory = createMemoryBudgetStore();
  const spend = new Map([["team-chat", { hour: 5n, day: 7n, month: 9n }]]);
  await memory.seed(spend, now);
  await memory.seed(spend, now);
  assert.equal(await memory.spent("team-chat", "day", now), 7n);
  await memory.seed(new Map([["team-chat", { hour: 1n, day: 10n, month: 9n }]]), now);
  assert.equal(await memory.spent("team-chat", "hour", now), 5n);
  assert.equal(await memory.spent("team-chat", "day", now), 10n);
  assert.equal(await memory.spent("team-chat", "month", now), 9n);
});

Deno.test("without a ledger nothing is restored", async () => {
  assert.equal(
    await restoreBudgets(testApp({ LEDGER_URL: "none" }, { now: () => now }).services),
    null,
  );
});
