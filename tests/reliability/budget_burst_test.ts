/**
 * A burst of 200 concurrent requests from one tenant against a small hourly budget, through the
 * whole app: with reservations the accepted spend never exceeds the budget, with the in-memory
 * store and with the Redis store shared by two replicas. The simulated model writes max_tokens
 * of output, so each request really costs close to its reservation and the budget is nearly used.
 */
import assert from "node:assert/strict";
import { testApp } from "../helpers/app.ts";
import { total } from "../helpers/prom.ts";
import { withJsonFile } from "../helpers/files.ts";
import { startRedis } from "./redis_server.ts";

const BUDGET_USD = 0.05;
const TENANTS = {
  tenants: [
    { id: "default", hourly_alert_threshold_usd: 25 },
    { id: "bursty", hourly_alert_threshold_usd: 1, budgets: { hour: BUDGET_USD } },
  ],
};
const ENV = { SIM_MODE: "realistic", SIM_TTFT_MS: "0", SIM_TOKEN_MS: "0", LOG_LEVEL: "silent" };
const REQUEST = {
  prompt: "Summarize the quarterly cost report",
  model: "gpt-4o",
  tenant: "bursty",
  max_tokens: 400,
};
const PICO = 1e12;

type App = ReturnType<typeof testApp>;

/** Sends `n` concurrent requests spread over `apps`; returns accepted costs and refusals. */
async function burst(apps: App[], n: number) {
  const responses = await Promise.all(
    Array.from({ length: n }, (_, i) => apps[i % apps.length].post("/v1/inference", REQUEST)),
  );
  const accepted: number[] = [];
  let refused = 0;
  for (const res of responses) {
    const body = await res.json();
    if (res.status === 200) {
      accepted.push(body.cost_usd);
    } else {
      assert.equal(res.status, 429);
      assert.equal(body.error.type, "budget_exceeded");
      assert.equal(body.error.window, "hour");
      assert.equal(body.error.limit_usd, BUDGET_USD);
      refused++;
    }
  }
  // Sum in integer picodollars: every cost_usd is an exact decimal of at most 12 places.
  const acceptedPico = accepted.reduce((sum, usd) => sum + BigInt(Math.round(usd * PICO)), 0n);
  return { accepted, refused, acceptedPico };
}

function report(store: string, r: Awaited<ReturnType<typeof burst>>) {
  console.log(
    `${store} burst: ${r.accepted.length} of 200 accepted, spend $${
      Number(r.acceptedPico) / PICO
    } of a $${BUDGET_USD} budget; ${r.refused} refused with budget_exceeded`,
  );
}

Deno.test("a burst of 200 concurrent requests never spends past the budget (memory store)", async () => {
  await withJsonFile(TENANTS, async (path) => {
    const t = testApp({ ...ENV, TENANTS_FILE: path });
    const r = await burst([t], 200);
    report("memory", r);
    const budgetPico = BigInt(Math.round(BUDGET_USD * PICO));
    assert.ok(r.acceptedPico <= budgetPico, `accepted ${r.acceptedPico} > ${budgetPico}`);
    assert.ok(r.accepted.length > 0 && r.refused > 0);
    // Nearly all of it was usable: what is left is less than one more request would cost (the
    // simulated model writes all of max_tokens, so a request costs exactly its reservation).
    const onePico = BigInt(Math.round(Math.max(...r.accepted) * PICO));
    assert.ok(budgetPico - r.acceptedPico < onePico);
    const m = await t.metrics();
    assert.equal(total(m, "inference_requests_total", { status: "ok" }), r.accepted.length);
    assert.equal(total(m, "inference_requests_total", { status: "budget_exceeded" }), r.refused);
    const spent = total(m, "inference_budget_spent_usd", { tenant: "bursty", window: "hour" });
    assert.ok(Math.abs(spent - Number(r.acceptedPico) / PICO) < 1e-12);
  });
});

Deno.test("a burst of 200 concurrent requests over two replicas sharing Redis never spends past the budget", async () => {
  const redis = await startRedis();
  const apps: App[] = [];
  try {
    await withJsonFile(TENANTS, async (path) => {
      const env = { ...ENV, TENANTS_FILE: path, BUDGET_STORE: "redis", REDIS_URL: redis.url };
      apps.push(testApp(env), testApp(env));
      const r = await burst(apps, 200);
      report("redis (2 replicas)", r);
      const budgetPico = BigInt(Math.round(BUDGET_USD * PICO));
      assert.ok(r.acceptedPico <= budgetPico, `accepted ${r.acceptedPico} > ${budgetPico}`);
      assert.ok(r.accepted.length > 0 && r.refused > 0);
      const spentPico = await apps[1].services.budgets.spent("bursty", "hour", new Date());
      assert.equal(spentPico, r.acceptedPico, "Redis holds exactly the settled spend of both");
      const onePico = BigInt(Math.round(Math.max(...r.accepted) * PICO));
      assert.ok(budgetPico - r.acceptedPico < onePico);
    });
  } finally {
    await Promise.all(apps.map((a) => a.services.budgets.close()));
    await redis.stop();
  }
});
