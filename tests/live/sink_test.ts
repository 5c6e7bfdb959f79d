import assert from "node:assert/strict";
import { createLiveHub } from "../../src/live/hub.ts";
import { createMemoryLiveData } from "../../src/live/data.ts";
import { liveSink } from "../../src/usage/sinks/live.ts";
import { usageRecord } from "./helpers.ts";

const summaryOf = (memory: ReturnType<typeof createMemoryLiveData>) =>
  memory.summary({ now: new Date(), recentLimit: 10 });

Deno.test("with no page open the in-memory store still gets every request", async () => {
  const hub = createLiveHub();
  const memory = createMemoryLiveData();
  const sink = liveSink(hub, memory);
  await sink.record(
    usageRecord({ requestId: "r1", tenant: "team-chat", model: "gpt-4o", input: 10, output: 5 }),
  );
  await sink.record(
    usageRecord({ requestId: "r2", tenant: "team-chat", model: "gpt-4o", input: 1 }),
  );
  const { recent, windows } = await summaryOf(memory);
  assert.deepEqual(recent.map((e) => e.requestId), ["r2", "r1"]);
  assert.equal(windows.hour.total.requests, 2);
  // Nothing was held for a page: one that last saw the event before these gets a snapshot.
  assert.equal(hub.subscribe({ lastEventId: `${hub.bootId}.0` }).resumed, false);
});

Deno.test("with a page open the sink's events reach it; after it closed (no keep window) none is held", async () => {
  const hub = createLiveHub({ keepHistoryMs: 0 });
  const sink = liveSink(hub);
  const page = hub.subscribe();
  await sink.record(
    usageRecord({ requestId: "r1", tenant: "team-chat", model: "gpt-4o", input: 3 }),
  );
  assert.equal((await page.next())!.event.requestId, "r1");
  page.close();
  await sink.record(
    usageRecord({ requestId: "r2", tenant: "team-chat", model: "gpt-4o", input: 3 }),
  );
  assert.equal(hub.subscribe({ lastEventId: `${hub.bootId}.1` }).resumed, false);
});
