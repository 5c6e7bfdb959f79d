import assert from "node:assert/strict";
import OpenAI from "openai";
import { fakeProviders, startFakeUpstream, startGateway } from "../helpers/fake_upstream.ts";
import { testApp } from "../helpers/app.ts";
import { hashApiKey } from "../../src/tenants/tenants.ts";
import { withJsonFile } from "../helpers/files.ts";

Deno.test("GET /v1/models lists routed models by provider and the rest as simulated, in OpenAI's shape", async () => {
  const fake = startFakeUpstream();
  const gateway = await startGateway(fakeProviders(fake));
  try {
    const client = new OpenAI({ apiKey: "k", baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    const models = [];
    for await (const model of client.models.list()) models.push(model);
    const servedBy = Object.fromEntries(models.map((m) => [m.id, m.owned_by]));
    assert.equal(servedBy["gpt-4o-mini"], "openai");
    assert.equal(servedBy["claude-3.5-sonnet"], "anthropic");
    assert.equal(servedBy["mixtral-8x22b"], "simulated");
    assert.equal(models.length, gateway.services.prices.models.size);
    assert.deepEqual(Object.keys(models[0]).sort(), ["created", "id", "object", "owned_by"]);

    const one = await client.models.retrieve("gpt-4o-mini");
    assert.equal(one.owned_by, "openai");
    const missing = await client.models.retrieve("gpt-2").catch((e) => e);
    assert.ok(missing instanceof OpenAI.NotFoundError);
  } finally {
    await gateway.stop();
    await fake.stop();
  }
});

Deno.test("with unrouted_models reject only routed, priced models are listed", async () => {
  const fake = startFakeUpstream();
  const providers = { ...fakeProviders(fake), unrouted_models: "reject" };
  const gateway = await startGateway(providers);
  try {
    const res = await fetch(`${gateway.url}/v1/models`);
    const ids = (await res.json()).data.map((m: { id: string }) => m.id).sort();
    assert.deepEqual(ids, [
      "claude-3.5-haiku",
      "claude-3.5-sonnet",
      "gpt-4.1-mini",
      "gpt-4o",
      "gpt-4o-mini",
    ]);
    const refused = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4.1", messages: [{ role: "user", content: "x" }] }),
    });
    assert.equal(refused.status, 400);
    assert.equal((await refused.json()).error.type, "unknown_model");
  } finally {
    await gateway.stop();
    await fake.stop();
  }
});

Deno.test("with API keys configured GET /v1/models needs one, answered 401 in the API's shape", async () => {
  const tenants = {
    tenants: [
      { id: "default", hourly_alert_threshold_usd: 25 },
      {
        id: "team-chat",
        hourly_alert_threshold_usd: 100,
        api_keys: [{ name: "ci", sha256: hashApiKey("tenant-key") }],
      },
    ],
  };
  await withJsonFile(tenants, async (path) => {
    const t = testApp({ TENANTS_FILE: path });
    const anonymous = await t.app.request("/v1/models");
    assert.equal(anonymous.status, 401);
    const body = await anonymous.json();
    assert.equal(body.error.type, "unauthorized");
    assert.equal(body.error.code, "unauthorized");
    const anthropic = await t.app.request("/v1/models", {
      headers: { "anthropic-version": "2023-06-01" },
    });
    assert.equal((await anthropic.json()).type, "error");
    const allowed = await t.app.request("/v1/models", {
      headers: { authorization: "Bearer tenant-key" },
    });
    assert.equal(allowed.status, 200);
    assert.equal((await allowed.json()).object, "list");
  });
});
