/** The Redis budget store going away, through the whole app: /metrics keeps answering. */
import assert from "node:assert/strict";
import { testApp } from "../helpers/app.ts";
import { find, total } from "../helpers/prom.ts";
import { withJsonFile } from "../helpers/files.ts";
import { freePort } from "./redis_server.ts";

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
