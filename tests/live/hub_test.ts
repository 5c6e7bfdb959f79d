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
  let built = 0;
  const publish = (requestId: string) => hub.publishIfWatched(() => (built++, event(requestId)));
  const page = hub.subscribe();
  const seen = publish("r1")!;
  assert.equal((await page.next())!.event.requestId, "r1");
  page.close();
  // Within the window: built and held, so the page resumes with exactly what it missed.
  clock += 59_999;
  assert.equal(publish("r2")?.event.requestId, "r2");
  const back = hub.subscribe({ lastEventId: seen.id });
  assert.equal(back.resumed, true);
  assert.deepEqual(await take(back, 1), ["r2"]);
  // The window runs from the last close, not the first: this one opens it again.
  back.close();
  clock += 59_999;
  assert.equal(publish("r3")?.event.requestId, "r3");
  assert.equal(built, 3);
  // A full window after the last close: nothing is built, and the earlier ids cannot resume.
  clock += 1;
  assert.equal(publish("r4"), undefined);
  assert.equal(built, 3);
  assert.equal(hub.subscribe({ lastEventId: seen.id }).resumed, false);
  assert.equal(hub.subscribe({ lastEventId: `${hub.bootId}.3` }).resumed, false);
  // An open page makes the hub build and deliver events again, resumable from there on.
  const fresh = hub.subscribe();
  const r5 = publish("r5")!;
  assert.deepEqual(await take(fresh, 1), ["r5"]);
  assert.equal(built, 4);
  const fromSkipped = hub.subscribe({ lastEventId: `${hub.bootId}.4` });
  assert.equal(fromSkipped.resumed, true);
  assert.deepEqual(await take(fromSkipped, 1), ["r5"]);
  assert.equal(hub.subscribe({ lastEventId: r5.id }).resumed, true);
});

Deno.test("after a gap, replay from a wrapped history is exact and never reaches into the gap", async () => {
  let clock = 0;
  const hub = createLiveHub({ historySize: 3, keepHistoryMs: 10, now: () => clock });
  hub.subscribe().close();
  for (let i = 1; i <= 4; i++) hub.publishIfWatched(() => event(`old${i}`));
  clock += 10;
  hub.publishIfWatched(() => event("skipped")); // event 5: not built
  const page = hub.subscribe();
  const ids = ["r6", "r7", "r8", "r9", "r10"].map((id) =>
    hub.publishIfWatched(() => event(id))!.id
  );
  assert.deepEqual(await take(page, 5), ["r6", "r7", "r8", "r9", "r10"]);
  // The ring of three holds 8, 9, 10: after 7 it replays them; after 6 or 5 it would need more.
  const back = hub.subscribe({ lastEventId: ids[1] });
  assert.equal(back.resumed, true);
  assert.deepEqual(await take(back, 3), ["r8", "r9", "r10"]);
  assert.equal(hub.subscribe({ lastEventId: ids[0] }).resumed, false);
  assert.equal(hub.subscribe({ lastEventId: `${hub.bootId}.4` }).resumed, false);
});

Deno.test("a replay longer than the queue closes the subscriber and leaves no one watching", () => {
  let clock = 0;
  const hub = createLiveHub({ historySize: 8, maxQueue: 2, keepHistoryMs: 5, now: () => clock });
  const first = hub.subscribe();
  const seen = hub.publish(event("r1"));
  for (let i = 2; i <= 5; i++) hub.publish(event(`r${i}`));
  first.close();
  const behind = hub.subscribe({ lastEventId: seen.id });
  assert.equal(behind.overflowed, true);
  assert.equal(hub.subscriberCount, 0);
  // Nobody is watching: once the window is over, events are no longer built.
  clock += 5;
  let built = 0;
  assert.equal(hub.publishIfWatched(() => (built++, event("r6"))), undefined);
  assert.equal(built, 0);
});
