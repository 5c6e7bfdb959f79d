/**
 * The Redis budget store going away and coming back, through the whole app: budgeted requests
 * are refused with a 503 (never over-spent, never a 500), tenants without budgets are served,
 * /metrics keeps answering, and budgets work again once Redis is back.
 */
import assert from "node:assert/strict";
import { testApp } from "../helpers/app.ts";
import { find, total } from "../helpers/prom.ts";
import { withJsonFile } from "../helpers/files.ts";
import { eventually, within } from "../helpers/poll.ts";
import { freePort, startRedis } from "./redis_server.ts";

const TENANTS = {
  tenants: [
    { id: "default", hourly_alert_threshold_usd: 25 },
    { id: "budgeted", hourly_alert_threshold_usd: 1, budgets: { hour: 1, day: 5 } },
  ],
};
const REQUEST = { prompt: "Explain transformers in 3 sentences", model: "gpt-4o-mini" };

Deno.test("with Redis down /metrics still answers and leaves out only the budget spend series", async () => {
  await withJsonFile(TENANTS, async (path) => {
    const t = testApp({
      TENANTS_FILE: path,
      BUDGET_STORE: "redis",
      REDIS_URL: `redis://127.0.0.1:${freePort()}`,
      LOG_LEVEL: "silent",
    });
    try {
      assert.equal((await t.post("/v1/inference", REQUEST)).status, 200);
      const res = await t.app.request("/metrics");
      assert.equal(res.status, 200);
      await res.body?.cancel();
      const m = await t.metrics();
      assert.equal(total(m, "inference_requests_total", { status: "ok" }), 1);
      assert.equal(find(m, "inference_budget_spent_usd").length, 0);
      assert.equal(find(m, "inference_budget_limit_usd").length, 2);
    } finally {
      await t.services.budgets.close();
    }
  });
});

Deno.test("with Redis down a budgeted request is refused with 503 and a tenant without budgets is served", async () => {
  await withJsonFile(TENANTS, async (path) => {
    const t = testApp({
      TENANTS_FILE: path,
      BUDGET_STORE: "redis",
      REDIS_URL: `redis://127.0.0.1:${freePort()}`,
      LOG_LEVEL: "silent",
    });
    try {
      const refused = await t.post("/v1/inference", { ...REQUEST, tenant: "budgeted" });
      assert.equal(refused.status, 503);
      const body = await refused.json();
      assert.equal(body.error.type, "budget_unavailable");
      assert.ok(Number(refused.headers.get("retry-after")) >= 1);
      assert.doesNotMatch(JSON.stringify(body), /redis|127\.0\.0\.1|MaxRetries/i);
      const served = await t.post("/v1/inference", { ...REQUEST, tenant: "default" });
      assert.equal(served.status, 200);
      const m = await t.metrics();
      assert.equal(
        total(m, "inference_requests_total", { tenant: "budgeted", status: "overloaded" }),
        1,
      );
      assert.equal(total(m, "inference_cost_usd_total", { tenant: "budgeted" }), 0);
    } finally {
      await t.services.budgets.close();
    }
  });
});

Deno.test("when Redis comes back on the same address budgets are enforced again without a restart", async () => {
  let redis = await startRedis();
  const port = redis.port;
  await withJsonFile(TENANTS, async (path) => {
    const t = testApp({
      TENANTS_FILE: path,
      BUDGET_STORE: "redis",
      REDIS_URL: redis.url,
      LOG_LEVEL: "silent",
    });
    try {
      const req = { ...REQUEST, tenant: "budgeted" };
      assert.equal((await t.post("/v1/inference", req)).status, 200);
      await redis.stop();
      assert.equal((await t.post("/v1/inference", req)).status, 503);
      redis = await startRedis(port);
      await eventually("served again once Redis answers", within(10_000), async () => {
        const res = await t.post("/v1/inference", req);
        await res.body?.cancel();
        if (res.status !== 200) throw new Error(`answered ${res.status}`);
        return true;
      });
      // A fresh Redis starts from zero: spend kept only in the old one is gone (no persistence
      // in this test), which is why a production Redis needs persistence or replication.
      const spent = await t.services.budgets.spent("budgeted", "hour", new Date());
      assert.ok(spent > 0n);
    } finally {
      await t.services.budgets.close();
      await redis.stop();
    }
  });
});
