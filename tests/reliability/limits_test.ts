/**
 * Resource limits answer instead of growing: MAX_CONCURRENT_REQUESTS → 503 `overloaded`,
 * MAX_BODY_BYTES → 413 `payload_too_large` (without reading the rest of the body), and a tenant's
 * `rate_limit_per_minute` → 429 `rate_limited`. None of them moves a cost or token total.
 */
import assert from "node:assert/strict";
import { testApp } from "../helpers/app.ts";
import { total } from "../helpers/prom.ts";
import { withJsonFile } from "../helpers/files.ts";
import { eventually, within } from "../helpers/poll.ts";
import type { Backend, GenerationRequest } from "../../src/backends/types.ts";

const REQUEST = { prompt: "Explain transformers in 3 sentences", model: "gpt-4o-mini" };

/** A backend whose generations wait until the test opens the gate. */
function gatedBackend() {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => open = resolve);
  let waiting = 0;
  const backend: Backend = {
    provider: "simulated",
    async generate(request: GenerationRequest) {
      waiting++;
      await gate;
      return { text: `reply to ${request.messages[0].content}`, finishReason: "stop" };
    },
    stream() {
      throw new Error("not used");
    },
  };
  return { backend, open: () => open(), waiting: () => waiting };
}

Deno.test("past MAX_CONCURRENT_REQUESTS a request gets 503 overloaded with Retry-After and nothing is billed", async () => {
  const gated = gatedBackend();
  const t = testApp({ MAX_CONCURRENT_REQUESTS: "4", LOG_LEVEL: "silent" }, {
    backend: gated.backend,
  });
  const held = Array.from({ length: 4 }, () => t.post("/v1/inference", REQUEST));
  await eventually("4 generations in flight", within(5_000), () => gated.waiting() === 4);

  // The refused request's 10 MB body is not read: the stream is pulled at most once.
  let pulls = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulls++;
      controller.enqueue(new Uint8Array(1024 * 1024).fill(0x20));
      if (pulls === 10) controller.close();
    },
  });
  const refused = await t.app.request("/v1/inference", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  assert.equal(refused.status, 503);
  assert.equal((await refused.json()).error.type, "overloaded");
  assert.equal(refused.headers.get("retry-after"), "1");
  assert.ok(pulls <= 1, `the refused body was pulled ${pulls} times`);

  gated.open();
  const answers = await Promise.all(held);
  assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 200]);
  const costs = await Promise.all(answers.map(async (r) => (await r.json()).cost_usd));
  const after = await t.post("/v1/inference", REQUEST);
  assert.equal(after.status, 200, "slots are given back");
  const m = await t.metrics();
  assert.equal(total(m, "inference_requests_total", { status: "overloaded" }), 1);
  assert.equal(total(m, "inference_requests_total", { status: "ok" }), 5);
  const expected = costs.reduce((a, b) => a + b, 0) + (await after.json()).cost_usd;
  assert.ok(Math.abs(total(m, "inference_cost_usd_total") - expected) <= 1e-9 * expected);
  assert.equal(total(m, "inference_in_flight_requests"), 0);
});

Deno.test("a body over MAX_BODY_BYTES gets 413 payload_too_large whether or not it declares its length", async () => {
  const t = testApp({ MAX_BODY_BYTES: "4096", LOG_LEVEL: "silent" });
  const big = JSON.stringify({ prompt: "a".repeat(5000) });
  const declared = await t.post("/v1/inference", big);
  assert.equal(declared.status, 413);
  const declaredBody = await declared.json();
  assert.equal(declaredBody.error.type, "payload_too_large");
  assert.equal(declaredBody.error.limit_bytes, 4096);

  let pulled = 0;
  const chunks = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled += 1024;
      controller.enqueue(new Uint8Array(1024).fill(0x61));
      if (pulled >= 1024 * 1024) controller.close();
    },
  });
  const streamed = await t.app.request("/v1/inference", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: chunks,
  });
  assert.equal(streamed.status, 413);
  assert.equal((await streamed.json()).error.type, "payload_too_large");
  assert.ok(pulled <= 4096 + 2 * 1024, `read ${pulled} bytes of a 1 MiB body past a 4 KiB limit`);

  const justUnder = JSON.stringify({ prompt: "a".repeat(4000) });
  assert.equal(new TextEncoder().encode(justUnder).length <= 4096, true);
  assert.equal((await t.post("/v1/inference", justUnder)).status, 200);
  const m = await t.metrics();
  assert.equal(total(m, "inference_requests_total", { status: "bad_request" }), 2);
});

Deno.test("a tenant over rate_limit_per_minute gets 429 rate_limited until the next minute; others are unaffected", async () => {
  await withJsonFile({
    tenants: [
      { id: "default", hourly_alert_threshold_usd: 25 },
      { id: "team-search", hourly_alert_threshold_usd: 50, rate_limit_per_minute: 3 },
      { id: "team-chat", hourly_alert_threshold_usd: 100 },
    ],
  }, async (path) => {
    let now = new Date("2026-11-25T14:30:10Z");
    const t = testApp({ TENANTS_FILE: path, LOG_LEVEL: "silent" }, { now: () => now });
    const search = { ...REQUEST, tenant: "team-search" };
    for (let i = 0; i < 3; i++) assert.equal((await t.post("/v1/inference", search)).status, 200);
    const limited = await t.post("/v1/inference", search);
    assert.equal(limited.status, 429);
    const body = await limited.json();
    assert.equal(body.error.type, "rate_limited");
    assert.equal(body.error.limit_per_minute, 3);
    assert.equal(limited.headers.get("retry-after"), "50");
    assert.equal(
      (await t.post("/v1/inference", { ...REQUEST, tenant: "team-chat" })).status,
      200,
      "another tenant is served",
    );
    now = new Date("2026-11-25T14:31:00Z");
    assert.equal((await t.post("/v1/inference", search)).status, 200, "a new minute is allowed");
    const m = await t.metrics();
    assert.equal(
      total(m, "inference_requests_total", { tenant: "team-search", status: "rate_limited" }),
      1,
    );
    assert.equal(total(m, "inference_requests_total", { tenant: "team-search", status: "ok" }), 4);
    assert.equal(total(m, "inference_input_tokens_total", { tenant: "team-search" }), 4 * 6);
  });
});

Deno.test("1,000 concurrent requests against a limit of 16 are each answered 200 or 503, never queued without bound", async () => {
  const gated = gatedBackend();
  const t = testApp({ MAX_CONCURRENT_REQUESTS: "16", LOG_LEVEL: "silent" }, {
    backend: gated.backend,
  });
  const all = Array.from({ length: 1000 }, () => t.post("/v1/inference", REQUEST));
  await eventually("16 generations in flight", within(5_000), () => gated.waiting() === 16);
  // The 984 refused ones are answered while the 16 are still held.
  const settled = await Promise.all(all.slice(16).map(async (p) => (await p).status));
  assert.equal(gated.waiting(), 16);
  gated.open();
  const first = await Promise.all(all.slice(0, 16).map(async (p) => (await p).status));
  const statuses = [...first, ...settled];
  assert.equal(statuses.filter((s) => s === 200).length, 16);
  assert.equal(statuses.filter((s) => s === 503).length, 984);
});
