import assert from "node:assert/strict";
import { createMemoryBudgetStore } from "../../src/budgets/memory.ts";
import { windowAt } from "../../src/budgets/windows.ts";
import type { Tenant } from "../../src/tenants/tenants.ts";

const USD = 1_000_000_000_000n;
const tenant: Tenant = { id: "t", hourlyAlertThresholdUsd: 1, budgetsPico: { hour: 10n * USD } };
const now = new Date("2026-11-25T14:30:00Z");

Deno.test("windows are UTC calendar hours, days and months", () => {
  assert.equal(windowAt("hour", now).resetsAt.toISOString(), "2026-11-25T15:00:00.000Z");
  assert.equal(windowAt("day", now).resetsAt.toISOString(), "2026-11-26T00:00:00.000Z");
  assert.equal(windowAt("month", now).resetsAt.toISOString(), "2026-12-01T00:00:00.000Z");
  assert.equal(
    windowAt("month", new Date("2026-12-31T23:59:59Z")).resetsAt.toISOString(),
    "2027-01-01T00:00:00.000Z",
  );
});

Deno.test("windows follow the clock across hour, day and month edges, forwards and back", () => {
  // Each instant asked right after its neighbour, so a span kept from the last question must not
  // outlive its hour, whichever way the clock moves (a test clock, a corrected system clock).
  const instants = [
    "2026-11-30T23:59:59.999Z",
    "2026-12-01T00:00:00.000Z",
    "2026-11-30T23:00:00.000Z",
    "2026-11-30T22:59:59.999Z",
    "2026-12-01T00:59:59.999Z",
    "2026-12-01T01:00:00.000Z",
  ];
  const expected: Record<string, [string, string, string]> = {
    "2026-11-30T23:59:59.999Z": ["hour:2026-11-30T23", "day:2026-11-30", "month:2026-11"],
    "2026-12-01T00:00:00.000Z": ["hour:2026-12-01T00", "day:2026-12-01", "month:2026-12"],
    "2026-11-30T23:00:00.000Z": ["hour:2026-11-30T23", "day:2026-11-30", "month:2026-11"],
    "2026-11-30T22:59:59.999Z": ["hour:2026-11-30T22", "day:2026-11-30", "month:2026-11"],
    "2026-12-01T00:59:59.999Z": ["hour:2026-12-01T00", "day:2026-12-01", "month:2026-12"],
    "2026-12-01T01:00:00.000Z": ["hour:2026-12-01T01", "day:2026-12-01", "month:2026-12"],
  };
  for (const iso of [...instants, ...instants.toReversed()]) {
    const at = new Date(iso);
    const keys = (["hour", "day", "month"] as const).map((w) => windowAt(w, at).key);
    assert.deepEqual(keys, expected[iso], iso);
    const hourEnd = windowAt("hour", at).resetsAt.getTime();
    assert.ok(hourEnd > at.getTime() && hourEnd - at.getTime() <= 3_600_000, iso);
  }
  assert.throws(() => windowAt("hour", new Date(NaN)), RangeError);
});

Deno.test("reservations never let accepted spend exceed the budget under a concurrent burst", async () => {
  const store = createMemoryBudgetStore();
  const results = await Promise.all(
    Array.from({ length: 200 }, () => store.reserve(tenant, 3n * USD / 10n, now)),
  );
  const granted = results.filter((r) => r.ok).length;
  assert.equal(granted, 33); // 33 × $0.30 = $9.90 ≤ $10 < 34 × $0.30
  assert.ok((await store.spent("t", "hour", now)) <= 10n * USD);
});

Deno.test("settling replaces the reservation with the actual cost", async () => {
  const store = createMemoryBudgetStore();
  const r = await store.reserve(tenant, 4n * USD, now);
  assert.ok(r.ok);
  await store.settle(r.reservation, 1n * USD);
  assert.equal(await store.spent("t", "hour", now), 1n * USD);
});

Deno.test("an exceeded budget reports window, limit, spend and reset time", async () => {
  const store = createMemoryBudgetStore();
  const first = await store.reserve(tenant, 9n * USD, now);
  assert.ok(first.ok);
  const second = await store.reserve(tenant, 2n * USD, now);
  assert.ok(!second.ok);
  assert.equal(second.exceeded.window, "hour");
  assert.equal(second.exceeded.limitPico, 10n * USD);
  assert.equal(second.exceeded.spentPico, 9n * USD);
  assert.equal(second.exceeded.resetsAt.toISOString(), "2026-11-25T15:00:00.000Z");
});

Deno.test("a new hour starts from zero", async () => {
  const store = createMemoryBudgetStore();
  const r = await store.reserve(tenant, 10n * USD, now);
  assert.ok(r.ok);
  const later = new Date("2026-11-25T15:00:01Z");
  assert.equal(await store.spent("t", "hour", later), 0n);
  assert.ok((await store.reserve(tenant, 10n * USD, later)).ok);
});
