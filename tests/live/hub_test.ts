import assert from "node:assert/strict";
import { createLiveHub } from "../../src/live/hub.ts";
import type { LiveEvent } from "../../src/live/event.ts";

function event(requestId: string, tenant = "team-chat"): LiveEvent {
  return {
    time: new Date("2026-01-01T00:00:00Z"),
    requestId,
    tenant,
    model: "gpt-4o",
    route: "/v1/chat/completions",
    tokens: { input: 1, cachedInput: 0, cacheWrite: 0, output: 1, reasoning: 0 },
    costPico: 1n,
    status: "ok",
    unpriced: false,
    usageSource: "provider",
  };
}

async function take(sub: { next(): Promise<{ event: LiveEvent } | null> }, n: number) {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await sub.next())!.event.requestId);
  return ids;
}

Deno.test("every subscriber gets every event, in publish order, with rising ids", async () => {
  const hub = createLiveHub();
  const a = hub.subscribe();
  const b = hub.subscribe();
  const published = ["r1", "r2", "r3"].map((id) => hub.publish(event(id)));
  assert.deepEqual(await take(a, 3), ["r1", "r2", "r3"]);
  assert.deepEqual(await take(b, 3), ["r1", "r2", "r3"]);
  assert.deepEqual(published.map((p) => p.id), [1, 2, 3].map((n) => `${hub.bootId}.${n}`));
});

Deno.test("a waiting subscriber is woken by the next publish", async () => {
  const hub = createLiveHub();
  const sub = hub.subscribe();
  const waiting = sub.next();
  hub.publish(event("r1"));
  assert.equal((await waiting)!.event.requestId, "r1");
});

Deno.test("a filter keeps other tenants' events out of a subscriber's queue", async () => {
  const hub = createLiveHub();
  const sub = hub.subscribe({ filter: (e) => e.tenant === "team-chat" });
  hub.publish(event("search-1", "team-search"));
  hub.publish(event("chat-1"));
  assert.deepEqual(await take(sub, 1), ["chat-1"]);
});

Deno.test("a reconnect with the last seen id gets exactly the missed events", async () => {
  const hub = createLiveHub();
  const first = hub.subscribe();
  const seen = hub.publish(event("r1"));
  await first.next();
  first.close();
  hub.publish(event("r2"));
  hub.publish(event("r3"));
  const again = hub.subscribe({ lastEventId: seen.id });
  assert.equal(again.resumed, true);
  assert.deepEqual(await take(again, 2), ["r2", "r3"]);
  hub.publish(event("r4"));
  assert.deepEqual(await take(again, 1), ["r4"]);
});

Deno.test("an id of another process, or older than the history, is not resumed", () => {
  const hub = createLiveHub({ historySize: 2 });
  const old = hub.publish(event("r1"));
  hub.publish(event("r2"));
  hub.publish(event("r3"));
  hub.publish(event("r4"));
  // History holds 3 and 4: after 1, event 2 is gone; after 2, nothing is missing.
  assert.equal(hub.subscribe({ lastEventId: old.id }).resumed, false);
  assert.equal(hub.subscribe({ lastEventId: `${hub.bootId}.2` }).resumed, true);
  assert.equal(hub.subscribe({ lastEventId: "0badc0de.1" }).resumed, false);
  assert.equal(hub.subscribe({ lastEventId: "garbage" }).resumed, false);
  assert.equal(hub.subscribe({ lastEventId: `${hub.bootId}.99` }).resumed, false);
  assert.equal(hub.subscribe({ lastEventId: `${hub.bootId}.4` }).resumed, true);
});

Deno.test("a subscriber that does not read is disconnected at its queue limit, others go on", async () => {
  const hub = createLiveHub({ maxQueue: 3 });
  const slow = hub.subscribe();
  const fast = hub.subscribe();
  for (let i = 1; i <= 4; i++) {
    hub.publish(event(`r${i}`));
    await fast.next();
  }
  assert.equal(slow.overflowed, true);
  assert.equal(await slow.next(), null);
  assert.equal(hub.subscriberCount, 1);
  hub.publish(event("r5"));
  assert.deepEqual(await take(fast, 1), ["r5"]);
});

Deno.test("closing a subscription ends its pending read and removes it", async () => {
  const hub = createLiveHub();
  const sub = hub.subscribe();
  const pending = sub.next();
  sub.close();
  assert.equal(await pending, null);
  assert.equal(hub.subscriberCount, 0);
});

Deno.test("replay from a small history that has wrapped round many times is still exact", async () => {
  const hub = createLiveHub({ historySize: 3 });
  const ids = Array.from({ length: 10 }, (_, i) => hub.publish(event(`r${i + 1}`)).id);
  const sub = hub.subscribe({ lastEventId: ids[6] });
  assert.equal(sub.resumed, true);
  assert.deepEqual(await take(sub, 3), ["r8", "r9", "r10"]);
  assert.equal(hub.subscribe({ lastEventId: ids[5] }).resumed, false);
});

Deno.test("with no page ever open, an event is not built and no reconnect is resumed", () => {
  const hub = createLiveHub();
  let built = 0;
  const make = () => (built++, event("r1"));
  assert.equal(hub.publishIfWatched(make), undefined);
  assert.equal(built, 0);
  // The skipped event took its number: a page that saw the event before it needs a snapshot.
  assert.equal(hub.subscribe({ lastEventId: `${hub.bootId}.0` }).resumed, false);
  assert.equal(hub.subscribe({ lastEventId: `${hub.bootId}.1` }).resumed, true);
});

Deno.test("history is kept for keepHistoryMs after the last page closed, then not built", async () => {
  let clock = 1_000;
  const hub = createLiveHub({ keepHistoryMs: 60_000, now: () => clock });
  const page = hub.subscribe();
  const seen = hub.publishIfWatched(() => event("r1"))!;
  assert.equal((await page.next())!.event.requestId, "r1");
  page.close();
  // Within the window: built and held, so the page resumes with exactly what it missed.
  clock += 59_999;
  assert.equal(hub.publishIfWatched(() => event("r2"))?.event.requestId, "r2");
  const back = hub.subscribe({ lastEventId: seen.id });
  assert.equal(back.resumed, true);
  assert.deepEqual(await take(back, 1), ["r2"]);
  back.close();
  // A full window after the last close: nothing is built, and the earlier ids cannot resume.
  clock += 60_000;
  let built = 0;
  assert.equal(hub.publishIfWatched(() => (built++, event("r3"))), undefined);
  assert.equal(built, 0);
  assert.equal(hub.subscribe({ lastEventId: seen.id }).resumed, false);
  assert.equal(hub.subscribe({ lastEventId: `${hub.bootId}.2` }).resumed, false);
  // An open page makes the hub build and deliver events again, resumable from there on.
  const fresh = hub.subscribe();
  const r4 = hub.publishIfWatched(() => event("r4"))!;
  assert.deepEqual(await take(fresh, 1), ["r4"]);
  assert.equal(hub.subscribe({ lastEventId: `${hub.bootId}.3` }).resumed, true);
  assert.equal(hub.subscribe({ lastEventId: r4.id }).resumed, true);
  assert.equal(built, 0);
});
