/**
 * The app serves the live page and the spend routes beside the API: the page and its assets,
 * the snapshot and the report read the app's own ledger, keys decide what a caller sees, and a
 * wrong method on any of their paths is a 405, not a 404.
 */
import assert from "node:assert/strict";
import { hashApiKey } from "../../src/tenants/tenants.ts";
import { parseUsdPico } from "../../src/pricing/money.ts";
import { testApp } from "../helpers/app.ts";
import { withJsonFile } from "../helpers/files.ts";
import { tempLedger } from "../ledger/fixtures.ts";

const CHAT_KEY = "sk-chat-wiring-test";
const ADMIN_KEY = "sk-admin-wiring-test";

const TENANTS = {
  tenants: [
    {
      id: "team-chat",
      hourly_alert_threshold_usd: 10,
      api_keys: [{ name: "chat", sha256: hashApiKey(CHAT_KEY) }],
    },
    { id: "team-search", hourly_alert_threshold_usd: 10 },
    {
      id: "default",
      hourly_alert_threshold_usd: 10,
      api_keys: [{ name: "ops", sha256: hashApiKey(ADMIN_KEY), admin: true }],
    },
  ],
};

Deno.test("the page, its assets and the icon are served by the app in demo mode", async () => {
  const t = testApp();
  const page = await t.app.request("/");
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type")!, /^text\/html/);
  assert.match(page.headers.get("content-security-policy")!, /default-src 'none'/);
  await page.body?.cancel();
  for (const path of ["/live/app.js", "/live/style.css", "/favicon.ico", "/live/summary"]) {
    const res = await t.app.request(path);
    assert.equal(res.status, 200, path);
    await res.body?.cancel();
  }
});

Deno.test("a wrong method on the page's and the spend routes' paths is 405, an unknown path 404", async () => {
  const t = testApp();
  for (
    const path of [
      "/",
      "/live/summary",
      "/live/events",
      "/favicon.ico",
      "/v1/spend",
      "/v1/spend/requests",
      "/v1/spend/requests/some-id",
      "/v1/spend/export",
    ]
  ) {
    const res = await t.app.request(path, { method: "POST" });
    assert.equal(res.status, 405, path);
    assert.equal((await res.json()).error.type, "method_not_allowed");
  }
  const unknown = await t.app.request("/v1/spending");
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();
});

Deno.test("with keys, a tenant key reads only its own spend and snapshot; another tenant is 403, an admin sees all", async () => {
  const { ledger, cleanup } = await tempLedger();
  try {
    await withJsonFile(TENANTS, async (tenantsFile) => {
      const t = testApp({ TENANTS_FILE: tenantsFile }, { ledger });
      const chat = { authorization: `Bearer ${CHAT_KEY}` };
      const admin = { authorization: `Bearer ${ADMIN_KEY}` };
      const res = await t.post("/v1/inference", { prompt: "hello", model: "gpt-4o" }, chat);
      assert.equal(res.status, 200);
      const cost = parseUsdPico(String((await res.json()).cost_usd))!;

      const own = await t.app.request("/v1/spend?group_by=tenant", { headers: chat });
      assert.equal(own.status, 200);
      const report = JSON.parse(await own.text());
      assert.deepEqual(report.groups.map((g: { tenant: string }) => g.tenant), ["team-chat"]);
      assert.equal(parseUsdPico(String(report.total.cost_usd)), cost);

      for (
        const path of [
          "/v1/spend?tenant=team-search",
          "/v1/spend/requests?tenant=team-search",
          "/v1/spend/export?format=csv&tenant=team-search",
          "/live/summary?tenant=team-search",
        ]
      ) {
        const other = await t.app.request(path, { headers: chat });
        assert.equal(other.status, 403, path);
        assert.equal((await other.json()).error.type, "forbidden");
      }
      const anonymous = await t.app.request("/v1/spend");
      assert.equal(anonymous.status, 401);
      await anonymous.body?.cancel();

      const all = await t.app.request("/v1/spend?tenant=team-chat", { headers: admin });
      assert.equal(all.status, 200);
      assert.equal(JSON.parse(await all.text()).total.requests, 1);
      const summary = await t.app.request("/live/summary", { headers: admin });
      const recent = (await summary.json()).recent;
      assert.deepEqual(recent.map((r: { request_id: string }) => r.request_id), [
        res.headers.get("x-request-id"),
      ]);
    });
  } finally {
    await cleanup();
  }
});
