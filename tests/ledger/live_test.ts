/**
 * The live page's snapshot read from the ledger: the same totals, per window, tenant and model,
 * and the same recent requests as the page's in-memory store fed the same requests, so a page
 * sees no jump when a snapshot from the ledger replaces what the live events built.
 */
import assert from "node:assert/strict";
import { belongsInLedger, ledgerRowOf } from "../../src/ledger/row.ts";
import { createMemoryLiveData, type LiveSummary } from "../../src/live/data.ts";
import { liveEventFromRecord } from "../../src/live/event.ts";
import type { RequestStatus } from "../../src/telemetry/names.ts";
import { type RecordSpec, usageRecord } from "../live/helpers.ts";
import { tempLedger } from "./fixtures.ts";

const NOW = new Date("2026-11-25T14:30:00.000Z");

/** Requests finished at `iso`: last month, earlier this month, earlier today, this hour. */
const TRAFFIC: readonly (RecordSpec & { at: string })[] = [
  { at: "2026-10-31T23:59:59.999Z", requestId: "old", tenant: "team-chat", model: "gpt-4o" },
  { at: "2026-11-02T08:00:00.000Z", requestId: "m1", tenant: "team-chat", model: "gpt-4o" },
  { at: "2026-11-25T09:15:00.000Z", requestId: "d1", tenant: "team-search", model: "gpt-4o-mini" },
  {
    at: "2026-11-25T13:59:59.999Z",
    requestId: "d2",
    tenant: "team-chat",
    model: "claude-3.5-sonnet",
  },
  { at: "2026-11-25T14:00:00.000Z", requestId: "h1", tenant: "team-chat", model: "gpt-4o" },
  {
    at: "2026-11-25T14:01:00.000Z",
    requestId: "h2",
    tenant: "team-search",
    model: "gpt-4o-mini",
    cachedInput: 300,
    cacheWrite: 100,
  },
  { at: "2026-11-25T14:02:00.000Z", requestId: "h3", tenant: "team-chat", model: "my-own-model" },
  {
    at: "2026-11-25T14:03:00.000Z",
    requestId: "h4",
    tenant: "team-chat",
    model: "gpt-4o",
    status: "budget_exceeded" as RequestStatus,
    errorType: "budget_exceeded",
  },
  {
    at: "2026-11-25T14:04:00.000Z",
    requestId: "h5",
    tenant: "team-search",
    model: "gpt-4o",
    status: "client_closed" as RequestStatus,
  },
  {
    at: "2026-11-25T14:05:00.000Z",
    requestId: "h6",
    tenant: "team-search",
    model: "gpt-4o",
    status: "rate_limited" as RequestStatus,
    errorType: "rate_limited",
  },
].map((spec, i) => ({ input: 1_000 + i, output: 200 + i, ...spec }));

function comparable(summary: LiveSummary) {
  return {
    windows: Object.fromEntries(
      Object.entries(summary.windows).map(([kind, w]) => [kind, {
        ...w,
        tenants: Object.fromEntries(w.tenants),
        models: Object.fromEntries(w.models),
      }]),
    ),
    recent: summary.recent,
  };
}

Deno.test("the ledger's snapshot equals the in-memory store's for the same requests, per window, tenant and model", async () => {
  const { ledger, cleanup } = await tempLedger();
  try {
    const memory = createMemoryLiveData();
    for (const spec of TRAFFIC) {
      const record = usageRecord(spec);
      assert.ok(belongsInLedger(record));
      const time = new Date(spec.at);
      memory.add(liveEventFromRecord(record, { time }));
      await ledger.append(ledgerRowOf(record, {
        finishedAtMs: time.getTime(),
        route: record.route,
        pricingVersion: "test",
      }));
    }
    for (const tenant of [undefined, "team-chat", "team-search", "nobody"]) {
      const query = { now: NOW, tenant, recentLimit: 4 };
      assert.deepEqual(
        comparable(await ledger.summary(query)),
        comparable(await memory.summary(query)),
        `tenant ${tenant}`,
      );
    }
    const all = await ledger.summary({ now: NOW, recentLimit: 50 });
    assert.deepEqual(all.recent.map((e) => e.requestId), [
      "h6",
      "h5",
      "h4",
      "h3",
      "h2",
      "h1",
      "d2",
      "d1",
      "m1",
      "old",
    ]);
    const hour = all.windows.hour.total;
    assert.deepEqual(
      [hour.requests, hour.errors, hour.unpriced, hour.budgetRefusals],
      [6, 2, 1, 1],
    );
    assert.equal(all.windows.month.total.requests, 9);
    assert.equal(all.recent.find((e) => e.requestId === "h4")!.costPico, null);
  } finally {
    await cleanup();
  }
});
