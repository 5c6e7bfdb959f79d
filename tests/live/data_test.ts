import assert from "node:assert/strict";
import { createMemoryLiveData, windowBounds } from "../../src/live/data.ts";
import { liveEventFromRecord } from "../../src/live/event.ts";
import { type RecordSpec, usageRecord } from "./helpers.ts";

const at = (iso: string) => new Date(iso);

function eventAt(iso: string, spec: RecordSpec) {
  return liveEventFromRecord(usageRecord(spec), { time: at(iso) });
}

Deno.test("windows are the UTC calendar hour, day and month", () => {
  const now = at("2026-02-28T23:59:59.999Z");
  assert.deepEqual(windowBounds("hour", now), {
    start: at("2026-02-28T23:00:00Z"),
    end: at("2026-03-01T00:00:00Z"),
  });
  assert.deepEqual(windowBounds("day", now), {
    start: at("2026-02-28T00:00:00Z"),
    end: at("2026-03-01T00:00:00Z"),
  });
  assert.deepEqual(windowBounds("month", now), {
    start: at("2026-02-01T00:00:00Z"),
    end: at("2026-03-01T00:00:00Z"),
  });
});

Deno.test("totals add exact costs and count errors, unpriced requests and refusals apart", async () => {
  const data = createMemoryLiveData();
  const events = [
    eventAt("2026-05-10T12:01:00Z", {
      requestId: "a",
      tenant: "team-chat",
      model: "gpt-4o-mini",
      input: 6,
      output: 10,
    }),
    eventAt("2026-05-10T12:02:00Z", {
      requestId: "b",
      tenant: "team-chat",
      model: "gpt-4o",
      input: 100,
      cachedInput: 40,
      output: 5,
    }),
    eventAt("2026-05-10T12:03:00Z", {
      requestId: "c",
      tenant: "team-search",
      model: "mine",
      input: 7,
      output: 7,
    }),
    eventAt("2026-05-10T12:04:00Z", {
      requestId: "d",
      tenant: "team-search",
      model: "gpt-4o",
      status: "budget_exceeded",
    }),
    eventAt("2026-05-10T12:05:00Z", {
      requestId: "e",
      tenant: "team-search",
      model: "gpt-4o",
      input: 3,
      output: 1,
      status: "upstream_error",
    }),
  ];
  for (const e of events) data.add(e);
  const summary = await data.summary({ now: at("2026-05-10T12:30:00Z"), recentLimit: 50 });
  const hour = summary.windows.hour;
  const expected = events.reduce((sum, e) => sum + (e.costPico ?? 0n), 0n);
  assert.equal(hour.total.costPico, expected);
  assert.deepEqual(
    [hour.total.requests, hour.total.errors, hour.total.unpriced, hour.total.budgetRefusals],
    [5, 1, 1, 1],
  );
  assert.deepEqual(hour.total.tokens, {
    input: 116,
    cachedInput: 40,
    cacheWrite: 0,
    output: 23,
    reasoning: 0,
  });
  assert.equal(hour.tenants.get("team-chat")!.costPico, events[0].costPico! + events[1].costPico!);
  assert.equal(hour.models.get("unknown")!.unpriced, 1);
  assert.deepEqual(summary.recent.map((e) => e.requestId), ["e", "d", "c", "b", "a"]);
  assert.equal(summary.windows.month.total.costPico, expected);
});

Deno.test("a new hour starts at zero while the day and month keep counting", async () => {
  const data = createMemoryLiveData();
  data.add(
    eventAt("2026-05-10T12:59:59Z", {
      requestId: "a",
      tenant: "team-chat",
      model: "gpt-4o",
      input: 10,
    }),
  );
  data.add(
    eventAt("2026-05-10T13:00:00Z", {
      requestId: "b",
      tenant: "team-chat",
      model: "gpt-4o",
      input: 20,
    }),
  );
  const summary = await data.summary({ now: at("2026-05-10T13:10:00Z"), recentLimit: 50 });
  assert.equal(summary.windows.hour.total.tokens.input, 20);
  assert.equal(summary.windows.day.total.tokens.input, 30);
  const nextMonth = await data.summary({ now: at("2026-06-01T00:00:00Z"), recentLimit: 50 });
  assert.equal(nextMonth.windows.month.total.requests, 0);
});

Deno.test("a tenant's summary holds only its requests, its newest rows included", async () => {
  const data = createMemoryLiveData({ recentSize: 3 });
  data.add(
    eventAt("2026-05-10T12:00:00Z", {
      requestId: "chat-1",
      tenant: "team-chat",
      model: "gpt-4o",
      input: 1,
    }),
  );
  for (let i = 0; i < 5; i++) {
    data.add(
      eventAt("2026-05-10T12:01:00Z", {
        requestId: `s${i}`,
        tenant: "team-search",
        model: "gpt-4o",
        input: 1,
      }),
    );
  }
  const chat = await data.summary({
    now: at("2026-05-10T12:30:00Z"),
    tenant: "team-chat",
    recentLimit: 50,
  });
  assert.deepEqual(chat.recent.map((e) => e.requestId), ["chat-1"]);
  assert.deepEqual([...chat.windows.hour.tenants.keys()], ["team-chat"]);
  assert.equal(chat.windows.hour.total.requests, 1);
  const all = await data.summary({ now: at("2026-05-10T12:30:00Z"), recentLimit: 2 });
  assert.deepEqual(all.recent.map((e) => e.requestId), ["s4", "s3"]);
});
