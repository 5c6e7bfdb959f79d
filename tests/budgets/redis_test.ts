import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { createRedisBudgetStore } from "../../src/budgets/redis.ts";
import type { BudgetStore } from "../../src/budgets/store.ts";
import type { Tenant } from "../../src/tenants/tenants.ts";
import { freePort, type RedisServer, startRedis } from "../reliability/redis_server.ts";

const USD = 1_000_000_000_000n;
const tenant: Tenant = { id: "t", hourlyAlertThresholdUsd: 1, budgetsPico: { hour: 10n * USD } };
const now = new Date("2026-11-25T14:30:00Z");

/** Runs `body` with a fresh redis-server and stores on it; stops everything afterwards. */
async function withRedis(
  body: (ctx: { server: RedisServer; store: (prefix?: string) => BudgetStore }) => Promise<void>,
): Promise<void> {
  const server = await startRedis();
  const stores: BudgetStore[] = [];
  try {
    await body({
      server,
      store: (keyPrefix = "test:") => {
        const store = createRedisBudgetStore({ url: server.url, keyPrefix });
        stores.push(store);
        return store;
      },
    });
  } finally {
    await Promise.all(stores.map((s) => s.close()));
    await server.stop();
  }
}

Deno.test("redis store: a burst of 200 reservations from two replicas never exceeds the budget", async () => {
  await withRedis(async ({ store }) => {
    const replicas = [store(), store()];
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => replicas[i % 2].reserve(tenant, 3n * USD / 10n, now)),
    );
    assert.equal(results.filter((r) => r.ok).length, 33); // 33 × $0.30 ≤ $10 < 34 × $0.30
    assert.equal(await replicas[0].spent("t", "hour", now), 33n * 3n * USD / 10n);
  });
});

Deno.test("redis store: settling replaces the reservation with the actual cost", async () => {
  await withRedis(async ({ store }) => {
    const s = store();
    const r = await s.reserve(tenant, 4n * USD, now);
    assert.ok(r.ok);
    assert.equal(r.remaining[0].remainingPico, 6n * USD);
    await s.settle(r.reservation, 1n * USD + 7n);
    assert.equal(await s.spent("t", "hour", now), 1n * USD + 7n);
  });
});

Deno.test("redis store: an exceeded budget reports window, limit, spend and reset time", async () => {
  await withRedis(async ({ store }) => {
    const s = store();
    assert.ok((await s.reserve(tenant, 9n * USD, now)).ok);
    const second = await s.reserve(tenant, 2n * USD, now);
    assert.ok(!second.ok);
    assert.deepEqual(second.exceeded, {
      window: "hour",
      limitPico: 10n * USD,
      spentPico: 9n * USD,
      resetsAt: new Date("2026-11-25T15:00:00.000Z"),
    });
  });
});

Deno.test("redis store: a reservation is all or nothing across hour, day and month", async () => {
  await withRedis(async ({ store }) => {
    const s = store();
    const multi: Tenant = {
      id: "m",
      hourlyAlertThresholdUsd: 1,
      budgetsPico: { hour: 5n * USD, day: 8n * USD, month: 100n * USD },
    };
    assert.ok((await s.reserve(multi, 5n * USD, now)).ok);
    const later = new Date("2026-11-25T15:10:00Z"); // a new hour, the same day
    const refused = await s.reserve(multi, 4n * USD, later);
    assert.ok(!refused.ok);
    assert.equal(refused.exceeded.window, "day");
    // The refused reservation added nothing to the hour it did fit in.
    assert.equal(await s.spent("m", "hour", later), 0n);
    assert.equal(await s.spent("m", "month", later), 5n * USD);
  });
});

Deno.test("redis store: amounts far beyond 2^53 picodollars stay exact to the picodollar", async () => {
  await withRedis(async ({ store }) => {
    const s = store();
    const rich: Tenant = {
      id: "rich",
      hourlyAlertThresholdUsd: 1,
      budgetsPico: { month: 5_000_000n * USD + 3n },
    };
    const odd = 123_456n * USD + 789_012_345_677n; // $123,456.789012345677
    let expected = 0n;
    for (let i = 0; i < 40; i++) {
      const r = await s.reserve(rich, odd, now);
      assert.ok(r.ok, `reservation ${i}`);
      expected += odd;
      assert.equal(r.remaining[0].remainingPico, 5_000_000n * USD + 3n - expected);
    }
    const r = await s.reserve(rich, odd, now);
    assert.ok(!r.ok, "the 41st would cross $5,000,000");
    assert.equal(r.exceeded.spentPico, expected);
    const last = await s.reserve(rich, 5_000_000n * USD + 3n - expected, now);
    assert.ok(last.ok, "exactly up to the limit is accepted");
    assert.ok(!(await s.reserve(rich, 1n, now)).ok, "one picodollar more is refused");
    assert.ok(last.ok);
    await s.settle(last.reservation, 1n);
    assert.equal(await s.spent("rich", "month", now), expected + 1n);
  });
});

Deno.test("redis store: window keys expire an hour after their window ends", async () => {
  await withRedis(async ({ server, store }) => {
    const s = store("ttl:");
    const fresh = new Date();
    assert.ok((await s.reserve(tenant, 1n, fresh)).ok);
    const client = new Redis(server.url);
    try {
      const keys = await client.keys("ttl:budget:*");
      assert.equal(keys.length, 1);
      assert.match(keys[0], /^ttl:budget:\{t\}:hour:\d{4}-\d{2}-\d{2}T\d{2}$/);
      const expiresAt = await client.pexpiretime(keys[0]);
      const hourEnd = Math.ceil((fresh.getTime() + 1) / 3_600_000) * 3_600_000;
      // Set as a time to live on Redis's clock: within a second of the instant.
      assert.ok(Math.abs(expiresAt - (hourEnd + 3_600_000)) < 1000, `${expiresAt}`);
    } finally {
      client.disconnect();
    }
  });
});

Deno.test("redis store: a reservation dated long before Redis's clock still holds its window", async () => {
  await withRedis(async ({ store }) => {
    const s = store("old:");
    const past = new Date("2020-01-01T10:15:00Z");
    assert.ok((await s.reserve(tenant, 9n * USD, past)).ok);
    assert.ok(!(await s.reserve(tenant, 2n * USD, past)).ok, "the first reservation was kept");
    assert.equal(await s.spent("t", "hour", past), 9n * USD);
  });
});

Deno.test("redis store: tenants and key prefixes do not share spend", async () => {
  await withRedis(async ({ store }) => {
    const a = store("a:");
    const b = store("b:");
    assert.ok((await a.reserve(tenant, 10n * USD, now)).ok);
    assert.ok((await b.reserve(tenant, 10n * USD, now)).ok);
    assert.ok((await a.reserve({ ...tenant, id: "u" }, 10n * USD, now)).ok);
    assert.equal(await a.spent("t", "hour", now), 10n * USD);
    assert.equal(await a.spent("nobody", "hour", now), 0n);
  });
});

Deno.test("redis store: a tenant without limits never touches Redis", async () => {
  const store = createRedisBudgetStore({ url: `redis://127.0.0.1:${freePort()}` });
  try {
    const unlimited: Tenant = { id: "free", hourlyAlertThresholdUsd: 1, budgetsPico: {} };
    const r = await store.reserve(unlimited, 5n * USD, now);
    assert.ok(r.ok);
    await store.settle(r.reservation, 1n);
  } finally {
    await store.close();
  }
});

Deno.test("redis store: with Redis down a reservation fails within its timeout instead of hanging", async () => {
  const store = createRedisBudgetStore({
    url: `redis://127.0.0.1:${freePort()}`,
    commandTimeoutMs: 300,
  });
  try {
    const started = Date.now();
    await assert.rejects(() => store.reserve(tenant, 1n, now));
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  } finally {
    await store.close();
  }
});

Deno.test("redis store: a Redis that lost its data is rebuilt from the ledger's spend; one that kept it is not counted twice", async () => {
  await withRedis(async ({ server, store }) => {
    const [a, b] = [store(), store()];
    const ledger = new Map([["t", { hour: 3n * USD + 1n, day: 5n * USD, month: 8n * USD }]]);
    // Redis kept its spend, reservations in flight included: restoring changes nothing.
    const r = await a.reserve(tenant, 4n * USD, now);
    assert.ok(r.ok);
    await Promise.all([a.seed(ledger, now), b.seed(ledger, now)]);
    assert.equal(await a.spent("t", "hour", now), 4n * USD);
    // Redis lost everything: every replica restoring at start-up brings back the ledger's spend,
    // once, exactly, with the window's expiry.
    const client = new Redis(server.url);
    try {
      await client.flushall();
      await Promise.all([a.seed(ledger, now), b.seed(ledger, now)]);
      assert.equal(await a.spent("t", "hour", now), 3n * USD + 1n);
      assert.equal(await b.spent("t", "day", now), 5n * USD);
      assert.equal(await b.spent("t", "month", now), 8n * USD);
      const ttl = await client.pttl("test:budget:{t}:hour:2026-11-25T14");
      assert.ok(ttl > 0, `hour window restored without an expiry (${ttl})`);
    } finally {
      client.disconnect();
    }
    // The restored hour holds: $10 − $3.000000000001 leaves less than $7.
    assert.ok(!(await a.reserve(tenant, 7n * USD, now)).ok);
    assert.ok((await b.reserve(tenant, 6n * USD, now)).ok);
  });
});
