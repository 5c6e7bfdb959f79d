/**
 * Several replicas as users run them (compose's replicas profile), natively: three real servers on
 * free loopback ports behind Debian's nginx running stack/nginx/replicas.conf, budgets in one
 * redis-server, the spend ledger in one PostgreSQL with each replica's own outbox. Mixed requests go
 * through the balancer; then every replica's /v1/spend equals the costs the clients were told, to
 * the picodollar, and a budget spent through the balancer is refused by every replica. With no
 * replica left, the balancer answers the API's JSON 503.
 */
import assert from "node:assert/strict";
import { startReplicasBalancer } from "../helpers/nginx.ts";
import {
  assertSpendEquals,
  BILLED_AS,
  type Call,
  costOf,
  Expected,
  mixedCall,
  pico,
  post,
} from "../helpers/billed_calls.ts";
import { startPostgres } from "../helpers/postgres.ts";
import { parseExposition, total } from "../helpers/prom.ts";
import { type RunningServer, startServer } from "../helpers/server.ts";
import { freePort, startRedis } from "../reliability/redis_server.ts";

const REPLICAS = 3;
const REQUESTS = 120;
const CONCURRENCY = 12;
const BUDGET_USD = "0.05";
const TENANTS = {
  tenants: [
    { id: "team-search", hourly_alert_threshold_usd: 50 },
    { id: "team-chat", hourly_alert_threshold_usd: 100 },
    { id: "team-internal", hourly_alert_threshold_usd: 10 },
    { id: "capped", hourly_alert_threshold_usd: 1, budgets: { day: BUDGET_USD } },
    { id: "default", hourly_alert_threshold_usd: 25 },
  ],
};
/** Requests served by one replica, from its own /metrics. */
async function served(replica: RunningServer, match: Record<string, string> = {}) {
  const text = await (await fetch(`${replica.url}/metrics`)).text();
  return total(parseExposition(text), "inference_requests_total", match);
}

Deno.test("three replicas behind nginx share the PostgreSQL ledger and the Redis budgets: every replica's /v1/spend equals the sum of all bodies, and a spent budget is refused by every replica", async () => {
  const startedAt = Date.now();
  const postgres = await startPostgres();
  const redis = await startRedis();
  const dir = await Deno.makeTempDir({ prefix: "ict-replicas-" });
  const tenantsFile = `${dir}/tenants.json`;
  await Deno.writeTextFile(tenantsFile, JSON.stringify(TENANTS));
  const replicas: RunningServer[] = [];
  let balancer: Awaited<ReturnType<typeof startReplicasBalancer>> | undefined;
  let exitCodes: number[] = [];
  try {
    // Started together, as compose starts them: the first to reach the database migrates it.
    replicas.push(
      ...await Promise.all(Array.from({ length: REPLICAS }, (_, i) =>
        startServer({
          TENANTS_FILE: tenantsFile,
          BUDGET_STORE: "redis",
          REDIS_URL: redis.url,
          LEDGER_URL: postgres.url,
          LEDGER_OUTBOX: `${dir}/outbox-${i + 1}.sqlite`,
          // The simulated model writes max_tokens of output at once: costs vary, nothing waits.
          SIM_MODE: "realistic",
          SIM_TTFT_MS: "0",
          SIM_TOKEN_MS: "0",
          OTEL_TRACES_EXPORTER: "none",
        }))),
    );
    const ports = replicas.map((r) => Number(new URL(r.url).port));
    balancer = await startReplicasBalancer(ports, freePort());
    // What compose's healthcheck of the balancer asks: a replica answers /ready through it.
    const ready = await fetch(`${balancer.url}/ready`);
    assert.equal(ready.status, 200, await ready.text());
    const expected = new Expected();

    // Mixed tenants, models and routes, CONCURRENCY at a time, all through the balancer.
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < REQUESTS; i = next++) {
        const { tenant, call } = mixedCall(i);
        const cost = await costOf(balancer!.url, call, tenant);
        assert.notEqual(cost, null, `request ${i} was refused`);
        expected.add(BILLED_AS[tenant] ?? tenant, call.route, cost);
      }
    }));
    const perReplica = await Promise.all(replicas.map((r) => served(r)));
    assert.equal(perReplica.reduce((a, b) => a + b, 0), REQUESTS);
    assert.ok(perReplica.every((n) => n > 0), `the balancer skipped a replica: ${perReplica}`);

    // A budgeted tenant through the balancer until Redis refuses, then straight to each replica.
    const capped: Call = {
      route: "/v1/inference",
      body: { prompt: "Summarise the quarterly cost report", model: "gpt-4o", max_tokens: 400 },
      costIn: "body",
    };
    let acceptedPico = 0n;
    let largestPico = 0n;
    let accepted = 0;
    for (let attempt = 0;; attempt++) {
      assert.ok(attempt < 100, `the budget of $${BUDGET_USD} never refused after 100 requests`);
      const cost = await costOf(balancer.url, capped, "capped");
      expected.add("capped", capped.route, cost);
      if (cost === null) break;
      accepted++;
      acceptedPico += cost;
      if (cost > largestPico) largestPico = cost;
    }
    for (const replica of replicas) {
      assert.equal(await costOf(replica.url, capped, "capped"), null, `${replica.url} admitted`);
      expected.add("capped", capped.route, null);
    }
    const budgetPico = pico(BUDGET_USD);
    assert.ok(acceptedPico <= budgetPico, `spent ${acceptedPico} pico of ${budgetPico}`);
    // Refused only once the budget was really spent: less than one more request was left.
    assert.ok(budgetPico - acceptedPico < largestPico, `refused with ${acceptedPico} spent`);
    const cappedPerReplica = await Promise.all(
      replicas.map((r) => served(r, { tenant: "capped", status: "ok" })),
    );
    assert.equal(cappedPerReplica.reduce((a, b) => a + b, 0), accepted);
    assert.ok(
      cappedPerReplica.filter((n) => n > 0).length >= 2,
      `one replica took the whole budget: ${cappedPerReplica}`,
    );

    // Every replica reads the one database: once the outboxes shipped, all give the same report.
    const reports: string[] = [];
    const range = { fromMs: startedAt - 60_000, toMs: Date.now() + 3_600_000 };
    for (const replica of replicas) {
      reports.push(await assertSpendEquals(replica.url, expected, range));
    }
    assert.ok(reports.every((text) => text === reports[0]), "the replicas' reports differ");

    // With every replica gone the balancer answers in the API's error shape, not an HTML page.
    exitCodes = await Promise.all(replicas.splice(0).map((r) => r.stop()));
    const { response, text } = await post(balancer.url, capped, "team-chat");
    assert.equal(response.status, 503, text);
    assert.equal(response.headers.get("retry-after"), "1");
    assert.equal(JSON.parse(text).error.type, "overloaded");
    console.log(
      `replicas: ${REQUESTS} mixed requests + ${accepted} budgeted (${expected.refused} refused) ` +
        `over ${REPLICAS} replicas (${perReplica.join("/")} mixed, ${cappedPerReplica.join("/")} ` +
        `budgeted); /v1/spend total ${expected.costPico} pico matched on every replica; ` +
        `${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
    );
  } finally {
    await balancer?.stop();
    exitCodes.push(...await Promise.all(replicas.map((r) => r.stop())));
    await redis.stop();
    await postgres.destroy();
    await Deno.remove(dir, { recursive: true });
  }
  assert.deepEqual(exitCodes, [0, 0, 0], "a replica did not stop cleanly");
});
