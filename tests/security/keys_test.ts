/**
 * API keys: stored only as SHA-256 hashes, compared in constant time against every configured key,
 * and a refusal that says nothing about which keys exist or how close a guess came.
 */
import assert from "node:assert/strict";
import { testApp } from "../helpers/app.ts";
import { withJsonFile } from "../helpers/files.ts";
import { buildTenantDirectory, hashApiKey, TenantsError } from "../../src/tenants/tenants.ts";

const KEYS = { chat: "ict-chat-key-1f8a2b", admin: "ict-admin-key-9c3d4e" };
const TENANTS = {
  tenants: [
    { id: "default", hourly_alert_threshold_usd: 25 },
    {
      id: "team-chat",
      hourly_alert_threshold_usd: 100,
      api_keys: [{ name: "chat", sha256: hashApiKey(KEYS.chat) }],
    },
    {
      id: "ops",
      hourly_alert_threshold_usd: 1,
      api_keys: [{ name: "ops", sha256: hashApiKey(KEYS.admin), admin: true }],
    },
  ],
};

Deno.test("a tenants file can hold only SHA-256 hashes of keys: a plaintext key is refused at start-up", () => {
  const withKey = (apiKey: Record<string, unknown>) => ({
    tenants: [{ id: "default", hourly_alert_threshold_usd: 1, api_keys: [apiKey] }],
  });
  assert.throws(
    () => buildTenantDirectory(withKey({ name: "k", key: KEYS.chat })),
    TenantsError,
  );
  assert.throws(
    () => buildTenantDirectory(withKey({ name: "k", sha256: KEYS.chat })),
    /lowercase hex SHA-256/,
  );
  assert.throws(
    () => buildTenantDirectory(withKey({ name: "k", sha256: hashApiKey("x").toUpperCase() })),
    /lowercase hex SHA-256/,
  );
  const ok = buildTenantDirectory(withKey({ name: "k", sha256: hashApiKey(KEYS.chat) }));
  assert.equal(ok.authenticate(KEYS.chat)?.keyName, "k");
  assert.equal(ok.authenticate(hashApiKey(KEYS.chat)), null, "the hash itself is not a key");
});

Deno.test("every refused key gets the same 401, whatever it was and whichever route", async () => {
  await withJsonFile(TENANTS, async (path) => {
    const t = testApp({ TENANTS_FILE: path, LOG_LEVEL: "silent" });
    const attempts: Record<string, Record<string, string>> = {
      "no key": {},
      "a wrong key": { authorization: "Bearer ict-wrong-key-000000" },
      "a key one character off": { authorization: `Bearer ${KEYS.chat.slice(0, -1)}c` },
      "a prefix of a real key": { authorization: `Bearer ${KEYS.chat.slice(0, 8)}` },
      "the SHA-256 of a real key": { authorization: `Bearer ${hashApiKey(KEYS.chat)}` },
      "an empty bearer": { authorization: "Bearer " },
      "a Basic credential": { authorization: `Basic ${btoa(`u:${KEYS.chat}`)}` },
      "a wrong x-api-key": { "x-api-key": "ict-wrong-key-000000" },
      "a real key with a space inside": { authorization: `Bearer ${KEYS.chat} x` },
    };
    const requests: Record<string, { path: string; body: unknown }> = {
      inference: { path: "/v1/inference", body: { prompt: "x" } },
      chat: {
        path: "/v1/chat/completions",
        body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "x" }] },
      },
      messages: {
        path: "/v1/messages",
        body: {
          model: "claude-3.5-haiku",
          max_tokens: 5,
          messages: [{ role: "user", content: "x" }],
        },
      },
    };
    for (const [route, { path, body }] of Object.entries(requests)) {
      const answers = new Set<string>();
      for (const [what, headers] of Object.entries(attempts)) {
        const res = await t.post(path, body, headers);
        assert.equal(res.status, 401, `${route}: ${what}`);
        assert.equal(res.headers.get("www-authenticate"), "Bearer", `${route}: ${what}`);
        answers.add(await res.text());
      }
      assert.equal(answers.size, 1, `${route} answered differently: ${[...answers].join(" | ")}`);
      const [answer] = answers;
      for (const word of ["team-chat", "ops", "chat", "admin", "sha256", "hash"]) {
        assert.equal(answer.includes(word), false, `${route}'s 401 mentions "${word}"`);
      }
    }
    const models = new Set<number>();
    for (const headers of Object.values(attempts)) {
      const res = await t.app.request("/v1/models", { headers });
      await res.body?.cancel();
      models.add(res.status);
    }
    assert.deepEqual([...models], [401]);
    assert.equal(
      (await t.post("/v1/inference", { prompt: "x" }, {
        authorization: `Bearer ${KEYS.chat}`,
      })).status,
      200,
    );
  });
});

Deno.test("with keys configured neither the body nor x-tenant-id can move a request to another tenant", async () => {
  await withJsonFile(TENANTS, async (path) => {
    const t = testApp({ TENANTS_FILE: path, LOG_LEVEL: "silent" });
    const auth = { authorization: `Bearer ${KEYS.chat}`, "x-tenant-id": "ops" };
    assert.equal((await t.post("/v1/inference", { prompt: "x", tenant: "ops" }, auth)).status, 200);
    const chat = { model: "gpt-4o-mini", messages: [{ role: "user", content: "x" }] };
    assert.equal((await t.post("/v1/chat/completions", chat, auth)).status, 200);
    const m = await t.metrics();
    const tenants = new Set(
      m.samples.filter((s) => s.name === "inference_requests_total" && s.value > 0)
        .map((s) => s.labels.tenant),
    );
    assert.deepEqual([...tenants], ["team-chat"]);
  });
});

Deno.test("authentication takes the same time whichever key matches, and for a near miss", () => {
  // 200 keys; an early-exit comparison would answer the first key ~200 times faster than none.
  const keys = Array.from(
    { length: 200 },
    (_, i) => `ict-timing-key-${i.toString().padStart(4, "0")}`,
  );
  const directory = buildTenantDirectory({
    tenants: [{
      id: "default",
      hourly_alert_threshold_usd: 1,
      api_keys: keys.map((key, i) => ({ name: `k${i}`, sha256: hashApiKey(key) })),
    }],
  });
  const cases: Record<string, string> = {
    "the first key": keys[0],
    "the last key": keys[199],
    "no key": "ict-timing-key-none",
    "the first key, last character changed": `${keys[0].slice(0, -1)}x`,
  };
  const batch = (key: string) => {
    const started = performance.now();
    for (let i = 0; i < 100; i++) directory.authenticate(key);
    return performance.now() - started;
  };
  for (const key of Object.values(cases)) batch(key); // warm up
  const samples: Record<string, number[]> = Object.fromEntries(
    Object.keys(cases).map((name) => [name, []]),
  );
  // Interleaved rounds, so machine noise falls on every case alike; compare medians.
  for (let round = 0; round < 25; round++) {
    for (const [name, key] of Object.entries(cases)) samples[name].push(batch(key));
  }
  const medians = Object.fromEntries(
    Object.entries(samples).map(([name, s]) => [name, s.sort((a, b) => a - b)[12]]),
  );
  const values = Object.values(medians);
  const ratio = Math.max(...values) / Math.min(...values);
  console.log(`median ms per 100 checks: ${JSON.stringify(medians)}`);
  assert.ok(ratio < 1.5, `median ms per 100 checks: ${JSON.stringify(medians)}`);
  assert.equal(directory.authenticate(keys[199])?.keyName, "k199");
});
