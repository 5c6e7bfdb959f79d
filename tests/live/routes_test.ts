import assert from "node:assert/strict";
import { Hono } from "hono";
import { authorizeWithTenants } from "../../src/live/access.ts";
import { createMemoryLiveData, type MemoryLiveData } from "../../src/live/data.ts";
import { liveEventFromRecord } from "../../src/live/event.ts";
import { createLiveHub, type LiveHub } from "../../src/live/hub.ts";
import { type LiveRouteDeps, registerLiveRoutes } from "../../src/live/routes.ts";
import { formatUsd } from "../../src/pricing/money.ts";
import { ConfigError, loadConfig } from "../../src/config.ts";
import {
  buildTenantDirectory,
  embeddedTenantDirectory,
  hashApiKey,
  type TenantDirectory,
} from "../../src/tenants/tenants.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { openStream, type RecordSpec, usageRecord } from "./helpers.ts";

const ADMIN_KEY = "admin-key-0123456789";
const CHAT_KEY = "chat-key-0123456789";

/** Tenants with keys: an admin key on `default`, a tenant key for `team-chat`. */
function keyedTenants(): TenantDirectory {
  return buildTenantDirectory({
    tenants: [
      {
        id: "team-chat",
        hourly_alert_threshold_usd: 1,
        budgets: { day: "2.5" },
        api_keys: [{ name: "chat", sha256: hashApiKey(CHAT_KEY) }],
      },
      { id: "team-search", hourly_alert_threshold_usd: 2 },
      {
        id: "default",
        hourly_alert_threshold_usd: 3,
        api_keys: [{ name: "ops", sha256: hashApiKey(ADMIN_KEY), admin: true }],
      },
    ],
  });
}

/** A Hono app with only the live routes, and the one place requests are "finished". */
function liveApp(options: { tenants?: TenantDirectory; deps?: Partial<LiveRouteDeps> } = {}) {
  const tenants = options.tenants ?? embeddedTenantDirectory();
  const data: MemoryLiveData = options.deps?.data as MemoryLiveData ?? createMemoryLiveData();
  let hub: LiveHub = createLiveHub();
  const app = new Hono();
  registerLiveRoutes(app, {
    get hub() {
      return hub;
    },
    data,
    tenants,
    authorize: authorizeWithTenants(tenants),
    heartbeatMs: 60_000,
    ...options.deps,
  });
  return {
    app,
    data,
    /** Finishes requests as the gateway will: the store gets the row, then the hub the event. */
    finish(...specs: RecordSpec[]): UsageRecord[] {
      return specs.map((spec) => {
        const record = usageRecord(spec, tenants);
        const event = liveEventFromRecord(record, {
          time: new Date(),
          traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
        });
        data.add(event);
        hub.publish(event);
        return record;
      });
    },
    /** A process restart: a new hub (new event ids), the same store (the ledger survives). */
    restart() {
      hub = createLiveHub();
    },
  };
}

const MIXED: RecordSpec[] = [
  { requestId: "m1", tenant: "team-chat", model: "gpt-4o-mini", input: 6, output: 10 },
  {
    requestId: "m2",
    tenant: "team-search",
    model: "claude-3.5-sonnet",
    input: 1200,
    cachedInput: 200,
    cacheWrite: 300,
    output: 90,
  },
  { requestId: "m3", tenant: "team-chat", model: "not-priced", input: 5, output: 5 },
  {
    requestId: "m4",
    tenant: "team-search",
    model: "gpt-4o",
    status: "budget_exceeded",
    errorType: "budget_exceeded",
  },
  { requestId: "m5", tenant: "nobody-known", model: "gpt-4o", input: 40, output: 4 },
];

const sum = (records: UsageRecord[]) => records.reduce((s, r) => s + (r.costPico ?? 0n), 0n);

Deno.test("the summary's totals and rows are the finished requests' own numbers", async () => {
  const live = liveApp();
  const records = live.finish(...MIXED);
  const response = await live.app.request("/live/summary");
  assert.equal(response.status, 200);
  const body = await response.json();
  for (const kind of ["hour", "day", "month"]) {
    const total = body.windows[kind].total;
    assert.equal(total.cost_pico, sum(records).toString());
    assert.equal(total.cost_usd, Number(formatUsd(sum(records))));
    assert.deepEqual(
      [total.requests, total.errors, total.unpriced, total.budget_refusals],
      [5, 0, 1, 1],
    );
  }
  const tenants = Object.fromEntries(
    body.windows.hour.tenants.map((t: { tenant: string }) => [t.tenant, t]),
  );
  assert.deepEqual(Object.keys(tenants), [
    "team-search",
    "team-chat",
    "team-internal",
    "default",
    "other",
  ]);
  assert.equal(tenants["team-chat"].cost_pico, sum([records[0], records[2]]).toString());
  assert.equal(tenants["team-chat"].alert_threshold_usd, 100);
  assert.equal(tenants.other.cost_pico, records[4].costPico!.toString());
  assert.deepEqual(
    body.recent.map((e: { request_id: string }) => e.request_id),
    ["m5", "m4", "m3", "m2", "m1"],
  );
  for (const row of body.recent) {
    const record = records.find((r) => r.requestId === row.request_id)!;
    assert.equal(row.cost_usd, record.costUsd);
    assert.equal(row.tokens.input, record.usage.inputTokens);
    assert.equal(row.status, record.status);
  }
  assert.equal(response.headers.get("cache-control"), "no-store");
});

Deno.test("the stream opens with a snapshot, then one event per finished request, same numbers", async () => {
  const live = liveApp();
  const before = live.finish(MIXED[0]);
  const stream = await openStream(live.app);
  try {
    assert.equal(stream.response.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const snapshot = await stream.next();
    assert.equal(snapshot.event, "snapshot");
    assert.equal(snapshot.data.windows.hour.total.cost_pico, sum(before).toString());
    const records = live.finish(...MIXED.slice(1));
    const ids: string[] = [];
    for (const record of records) {
      const frame = await stream.next();
      assert.equal(frame.event, "request");
      assert.equal(frame.data.request_id, record.requestId);
      assert.equal(frame.data.cost_usd, record.costUsd);
      assert.equal(frame.data.cost_pico, record.costPico?.toString() ?? null);
      assert.deepEqual(frame.data.tokens, {
        input: record.usage.inputTokens,
        cached_input: record.usage.cachedInputTokens,
        cache_write: record.usage.cacheWriteTokens,
        output: record.usage.outputTokens,
        reasoning: 0,
      });
      assert.equal(frame.data.tenant, record.tenant.id);
      assert.equal(frame.data.model, record.modelLabel);
      assert.equal(frame.data.status, record.status);
      assert.equal(frame.data.usage_source, record.usageSource);
      ids.push(frame.id!);
    }
    const seqs = ids.map((id) => Number(id.split(".")[1]));
    assert.deepEqual(seqs, [2, 3, 4, 5]);
  } finally {
    await stream.close();
  }
});

Deno.test("a reconnect to the same process gets exactly the missed events, without a snapshot", async () => {
  const live = liveApp();
  const first = await openStream(live.app);
  await first.next();
  live.finish(MIXED[0]);
  const seen = await first.next();
  await first.close();
  const missed = live.finish(MIXED[1], MIXED[2]);
  const again = await openStream(live.app, { "last-event-id": seen.id! });
  try {
    for (const record of missed) {
      const frame = await again.next();
      assert.deepEqual([frame.event, frame.data.request_id], ["request", record.requestId]);
    }
    const [later] = live.finish(MIXED[3]);
    assert.equal((await again.next()).data.request_id, later.requestId);
  } finally {
    await again.close();
  }
});

Deno.test("a reconnect after a restart gets a snapshot from the store that includes the gap", async () => {
  const live = liveApp();
  const first = await openStream(live.app);
  await first.next();
  const before = live.finish(MIXED[0]);
  const seen = await first.next();
  await first.close();
  live.restart();
  const gap = live.finish(MIXED[1], MIXED[4]);
  const again = await openStream(live.app, { "last-event-id": seen.id! });
  try {
    const snapshot = await again.next();
    assert.equal(snapshot.event, "snapshot");
    assert.deepEqual(
      snapshot.data.recent.map((e: { request_id: string }) => e.request_id),
      ["m5", "m2", "m1"],
    );
    assert.equal(snapshot.data.windows.day.total.cost_pico, sum([...before, ...gap]).toString());
  } finally {
    await again.close();
  }
});

Deno.test("a fresh snapshot is sent every refresh interval, between events", async () => {
  const live = liveApp({ deps: { snapshotRefreshMs: 50 } });
  const stream = await openStream(live.app);
  try {
    await stream.next();
    const [record] = live.finish(MIXED[0]);
    assert.equal((await stream.next()).data.request_id, record.requestId);
    const refreshed = await stream.next();
    assert.equal(refreshed.event, "snapshot");
    assert.equal(refreshed.data.windows.hour.total.cost_pico, record.costPico!.toString());
  } finally {
    await stream.close();
  }
});

Deno.test("an idle stream carries heartbeat comments", async () => {
  const live = liveApp({ deps: { heartbeatMs: 20 } });
  const stream = await openStream(live.app);
  try {
    await stream.next();
    const deadline = Date.now() + 5_000;
    while (!stream.comments.includes("heartbeat") && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(stream.comments.includes("heartbeat"), `comments: ${stream.comments}`);
  } finally {
    await stream.close();
  }
});

Deno.test("a client that leaves ends its subscription", async () => {
  const hub = createLiveHub();
  const live = liveApp({ deps: { hub } });
  const stream = await openStream(live.app);
  await stream.next();
  assert.equal(hub.subscriberCount, 1);
  await stream.close();
  const deadline = Date.now() + 5_000;
  while (hub.subscriberCount > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(hub.subscriberCount, 0);
});

Deno.test("with API keys configured, no key or a wrong key gets 401 from the data endpoints", async () => {
  const live = liveApp({ tenants: keyedTenants() });
  for (const path of ["/live/summary", "/live/events"]) {
    for (const headers of [{}, { authorization: "Bearer not-a-key" }] as Record<string, string>[]) {
      const response = await live.app.request(path, { headers });
      assert.equal(response.status, 401);
      assert.equal(response.headers.get("www-authenticate"), "Bearer");
      assert.equal((await response.json()).error.type, "unauthorized");
    }
  }
});

Deno.test("a tenant key sees only its tenant, in the summary and in the stream", async () => {
  const live = liveApp({ tenants: keyedTenants() });
  live.finish(MIXED[0], MIXED[1]);
  const headers = { authorization: `Bearer ${CHAT_KEY}` };
  const body = await (await live.app.request("/live/summary", { headers })).json();
  assert.equal(body.tenant, "team-chat");
  assert.deepEqual(body.windows.month.tenants.map((t: { tenant: string }) => t.tenant), [
    "team-chat",
  ]);
  assert.equal(body.windows.day.tenants[0].budget_usd, 2.5);
  assert.equal(body.windows.month.tenants[0].budget_usd, null);
  assert.deepEqual(body.recent.map((e: { tenant: string }) => e.tenant), ["team-chat"]);
  assert.equal(body.windows.hour.total.requests, 1);

  const stream = await openStream(live.app, { "x-api-key": CHAT_KEY });
  try {
    assert.equal((await stream.next()).data.tenant, "team-chat");
    live.finish(
      { requestId: "s-9", tenant: "team-search", model: "gpt-4o", input: 1 },
      { requestId: "c-9", tenant: "team-chat", model: "gpt-4o", input: 1 },
    );
    assert.equal((await stream.next()).data.request_id, "c-9");
  } finally {
    await stream.close();
  }
  const other = await live.app.request("/live/summary?tenant=team-search", { headers });
  assert.equal(other.status, 403);
  assert.equal((await other.json()).error.type, "forbidden");
});

Deno.test("an admin key sees every tenant, or the one it asks for", async () => {
  const live = liveApp({ tenants: keyedTenants() });
  live.finish(MIXED[0], MIXED[1]);
  const headers = { authorization: `Bearer ${ADMIN_KEY}` };
  const all = await (await live.app.request("/live/summary", { headers })).json();
  assert.equal(all.tenant, null);
  assert.equal(all.recent.length, 2);
  const one = await (await live.app.request("/live/summary?tenant=team-search", { headers }))
    .json();
  assert.deepEqual(one.recent.map((e: { request_id: string }) => e.request_id), ["m2"]);
  const bad = await live.app.request("/live/summary?tenant=../etc", { headers });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.type, "invalid_request");
});

function attributeValues(html: string, name: string): string[] {
  return [...html.matchAll(new RegExp(`${name}="([^"]*)"`, "g"))].map((m) => m[1]);
}

Deno.test("the page is rendered with the snapshot's rows and totals, same-origin assets only", async () => {
  const live = liveApp();
  const records = live.finish(...MIXED);
  const response = await live.app.request("/");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type")!, /^text\/html/);
  const csp = response.headers.get("content-security-policy")!;
  assert.ok(csp.split("; ").includes("default-src 'none'"));
  assert.ok(csp.split("; ").includes("connect-src 'self'"));
  const html = await response.text();
  assert.deepEqual(attributeValues(html, "data-request-id"), ["m5", "m4", "m3", "m2", "m1"]);
  const hourCost = /data-window="hour">.*?data-pico="(\d+)"/s.exec(html)![1];
  assert.equal(hourCost, sum(records).toString());
  const urls = [...attributeValues(html, "src"), ...attributeValues(html, "href")];
  assert.ok(urls.length >= 3);
  for (const url of urls) assert.match(url, /^\/(live\/|favicon\.ico)/);
  assert.match(html, /<form id="key-form" hidden="">/);
});

Deno.test("with keys configured, the page without a key asks for one and shows no figures", async () => {
  const live = liveApp({ tenants: keyedTenants() });
  live.finish(MIXED[0], MIXED[1]);
  const html = await (await live.app.request("/")).text();
  assert.match(html, /<form id="key-form" ?>/);
  assert.deepEqual(attributeValues(html, "data-request-id"), []);
  assert.deepEqual(attributeValues(html, "data-tenant"), []);
  const keyed = await (await live.app.request("/", { headers: { "x-api-key": CHAT_KEY } })).text();
  assert.deepEqual(attributeValues(keyed, "data-request-id"), ["m1"]);
});

Deno.test("the page's script, style sheet and icon are served, versioned URLs cached for good", async () => {
  const live = liveApp();
  const html = await (await live.app.request("/")).text();
  const script = attributeValues(html, "src").find((u) => u.startsWith("/live/app.js?v="))!;
  const style = attributeValues(html, "href").find((u) => u.startsWith("/live/style.css?v="))!;
  for (const [url, type] of [[script, "text/javascript"], [style, "text/css"]]) {
    const response = await live.app.request(url);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type")!, new RegExp(`^${type}`));
    assert.equal(response.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.ok((await response.arrayBuffer()).byteLength > 100);
  }
  const icon = await live.app.request("/favicon.ico");
  assert.equal(icon.status, 200);
  assert.equal(icon.headers.get("content-type"), "image/svg+xml");
  assert.match(await icon.text(), /^<svg /);
});

Deno.test("JAEGER_UI_URL is read from the environment and must be http(s)", () => {
  assert.equal(
    loadConfig({ JAEGER_UI_URL: "http://localhost:16686" }).jaegerUiUrl,
    "http://localhost:16686",
  );
  assert.equal(loadConfig({}).jaegerUiUrl, undefined);
  assert.throws(() => loadConfig({ JAEGER_UI_URL: "javascript:alert(1)" }), ConfigError);
});

Deno.test("trace ids link into Jaeger in the summary when a UI URL is given", async () => {
  const live = liveApp({ deps: { jaegerUiUrl: "http://jaeger.test:16686" } });
  live.finish(MIXED[0]);
  const body = await (await live.app.request("/live/summary")).json();
  assert.equal(
    body.recent[0].trace_url,
    "http://jaeger.test:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736",
  );
});

Deno.test("the page and snapshot are gzipped for clients that accept it, the event stream never", async () => {
  const live = liveApp();
  live.finish(...MIXED);
  const headers = { "accept-encoding": "gzip" };
  for (const path of ["/", "/live/summary"]) {
    const response = await live.app.request(path, { headers });
    assert.equal(response.headers.get("content-encoding"), "gzip");
    const text = await new Response(response.body!.pipeThrough(new DecompressionStream("gzip")))
      .text();
    assert.ok(text.includes("m5"));
  }
  const stream = await openStream(live.app, headers);
  try {
    assert.equal(stream.response.headers.get("content-encoding"), null);
    assert.equal((await stream.next()).event, "snapshot");
  } finally {
    await stream.close();
  }
});
