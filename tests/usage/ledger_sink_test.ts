/**
 * The ledger and live sinks as the app wires them: every billed or refused request gets one row
 * (route, key name, end user, the body's cost) before its response is complete, the live page's
 * event follows the commit, requests that reached nothing get neither, and a failing ledger write
 * costs the client nothing but a log line.
 */
import assert from "node:assert/strict";
import { hashApiKey } from "../../src/tenants/tenants.ts";
import { parseUsdPico } from "../../src/pricing/money.ts";
import type { Ledger } from "../../src/ledger/ledger.ts";
import { testApp } from "../helpers/app.ts";
import { withJsonFile } from "../helpers/files.ts";
import { tempLedger } from "../ledger/fixtures.ts";

const KEY = "sk-team-chat-ledger-sink-test";

const TENANTS = {
  tenants: [
    {
      id: "team-chat",
      hourly_alert_threshold_usd: 10,
      budgets: { day: "0.001" },
      api_keys: [{ name: "chat-ci", sha256: hashApiKey(KEY) }],
    },
    { id: "default", hourly_alert_threshold_usd: 10 },
  ],
};

const AUTH = { authorization: `Bearer ${KEY}` };

/** An app with its own temporary ledger and the tenants above; `run` gets both. */
async function withLedgerApp(
  run: (t: ReturnType<typeof testApp>, ledger: Ledger) => Promise<void>,
) {
  const { ledger, cleanup } = await tempLedger();
  try {
    await withJsonFile(
      TENANTS,
      (tenantsFile) => run(testApp({ TENANTS_FILE: tenantsFile }, { ledger }), ledger),
    );
  } finally {
    await cleanup();
  }
}

const chat = (extra: Record<string, unknown> = {}) => ({
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "hello there" }],
  max_tokens: 20,
  ...extra,
});

Deno.test("each protocol's row carries its route, the key's name, the end user and the response's exact cost", async () => {
  await withLedgerApp(async (t, ledger) => {
    const cases = [
      {
        path: "/v1/chat/completions",
        body: chat({ safety_identifier: "user-sid", user: "older-user-field" }),
        endUser: "user-sid",
      },
      { path: "/v1/chat/completions", body: chat({ user: "user-openai" }), endUser: "user-openai" },
      {
        path: "/v1/messages",
        body: { ...chat({ model: "claude-3.5-sonnet" }), metadata: { user_id: "user-anthropic" } },
        endUser: "user-anthropic",
      },
      {
        path: "/v1/responses",
        body: { model: "gpt-4o-mini", input: "hello", user: "user-responses" },
        endUser: "user-responses",
      },
      {
        path: "/v1/embeddings",
        body: { model: "text-embedding-3-small", input: "hello", user: "user-embeddings" },
        endUser: "user-embeddings",
      },
      { path: "/v1/inference", body: { prompt: "hello", model: "gpt-4o-mini" }, endUser: null },
    ];
    for (const { path, body, endUser } of cases) {
      const res = await t.post(path, body, AUTH);
      assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
      await res.body?.cancel();
      const requestId = res.headers.get("x-request-id")!;
      // Answered, so already committed: no waiting.
      const row = await ledger.record(requestId);
      assert.ok(row, `${path}: no row for ${requestId}`);
      assert.equal(row.route, path);
      assert.equal(row.tenant, "team-chat");
      assert.equal(row.keyName, "chat-ci");
      assert.equal(row.endUser, endUser, path);
      assert.equal(row.status, "ok");
      const header = res.headers.get("x-inference-cost-usd");
      if (header !== null) assert.equal(row.costPico, parseUsdPico(header), path);
      assert.ok(row.costPico! > 0n, path);
    }
  });
});

Deno.test("a budget refusal gets a zero-cost row; a malformed or unauthorized request gets neither a row nor a live event", async () => {
  await withLedgerApp(async (t, ledger) => {
    const subscription = t.services.live.hub.subscribe();
    try {
      // The day budget is $0.001: a large max_tokens cannot be reserved.
      const refused = await t.post("/v1/chat/completions", chat({ max_tokens: 16_000 }), AUTH);
      assert.equal(refused.status, 429);
      await refused.body?.cancel();
      const malformed = await t.post("/v1/chat/completions", { model: "gpt-4o-mini" }, AUTH);
      assert.equal(malformed.status, 400);
      await malformed.body?.cancel();
      const unauthorized = await t.post("/v1/chat/completions", chat());
      assert.equal(unauthorized.status, 401);
      await unauthorized.body?.cancel();
      const marker = await t.post("/v1/chat/completions", chat(), AUTH);
      assert.equal(marker.status, 200);
      await marker.body?.cancel();

      const row = await ledger.record(refused.headers.get("x-request-id")!);
      assert.deepEqual([row?.status, row?.costPico, row?.inputTokens], [
        "budget_exceeded",
        0n,
        0,
      ]);
      for (const res of [malformed, unauthorized]) {
        assert.equal(await ledger.record(res.headers.get("x-request-id")!), null);
      }
      // Events come in order: everything published before the marker's is what the others made.
      const published: [string, string, bigint | null][] = [];
      const markerId = marker.headers.get("x-request-id")!;
      while (published.at(-1)?.[0] !== markerId) {
        const next = (await subscription.next())!.event;
        published.push([next.requestId, next.status, next.costPico]);
      }
      assert.deepEqual(published.slice(0, -1), [
        [refused.headers.get("x-request-id"), "budget_exceeded", null],
      ]);
    } finally {
      subscription.close();
    }
  });
});

Deno.test("the live event of a request is published only after its row is committed", async () => {
  await withLedgerApp(async (t, ledger) => {
    const subscription = t.services.live.hub.subscribe();
    try {
      const res = await t.post("/v1/chat/completions", chat(), AUTH);
      assert.equal(res.status, 200);
      await res.body?.cancel();
      const published = await subscription.next();
      assert.equal(published?.event.requestId, res.headers.get("x-request-id"));
      assert.ok(await ledger.record(published!.event.requestId));
      // The page's snapshot is the ledger's: it already holds the request.
      const summary = await t.services.live.data.summary({ now: new Date(), recentLimit: 5 });
      assert.deepEqual(summary.recent.map((e) => e.requestId), [published!.event.requestId]);
      assert.equal(summary.windows.day.total.costPico, published!.event.costPico);
    } finally {
      subscription.close();
    }
  });
});

Deno.test("a ledger write that fails is logged, and the client still gets its answer and the page its event", async () => {
  const { ledger, cleanup } = await tempLedger();
  const failing: Ledger = {
    ...ledger,
    append: () => Promise.reject(new Error("disk I/O error")),
  };
  try {
    const t = testApp({}, { ledger: failing });
    const subscription = t.services.live.hub.subscribe();
    const res = await t.post("/v1/inference", { prompt: "hello", tenant: "team-chat" });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).cost_usd > 0, true);
    const published = await subscription.next();
    assert.equal(published?.event.requestId, res.headers.get("x-request-id"));
    subscription.close();
    const failure = t.logLines.map((l) => JSON.parse(l)).find((l) => l.msg === "usage sink failed");
    assert.deepEqual([failure?.sink, failure?.error], ["ledger", "disk I/O error"]);
  } finally {
    await cleanup();
  }
});

Deno.test("with the ledger off the page's snapshot comes from this process's memory", async () => {
  const t = testApp({ LEDGER_URL: "none" });
  assert.equal(t.services.ledger, null);
  const res = await t.post("/v1/inference", { prompt: "hello", tenant: "team-search" });
  assert.equal(res.status, 200);
  const body = await res.json();
  const summary = await t.services.live.data.summary({ now: new Date(), recentLimit: 5 });
  assert.deepEqual(summary.recent.map((e) => e.requestId), [res.headers.get("x-request-id")]);
  assert.equal(summary.windows.hour.total.costPico, parseUsdPico(String(body.cost_usd)));
  const spend = await t.app.request("/v1/spend");
  assert.equal(spend.status, 404);
  assert.equal((await spend.json()).error.type, "not_found");
});
