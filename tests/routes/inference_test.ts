import assert from "node:assert/strict";
import { testApp } from "../helpers/app.ts";
import { find, total } from "../helpers/prom.ts";
import { hashApiKey } from "../../src/tenants/tenants.ts";
import { withJsonFile } from "../helpers/files.ts";
import { eventually, within } from "../helpers/poll.ts";

const EXAMPLE = {
  prompt: "Explain transformers in 3 sentences",
  model: "gpt-4o-mini",
  tenant: "team-search",
};

Deno.test("the reference example answers 6 input, 10 output tokens and costs 6.9e-06 USD", async () => {
  const t = testApp();
  const res = await t.post("/v1/inference", EXAMPLE);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    text: "Response to: Explain transformers in 3 sentences...",
    model: "gpt-4o-mini",
    input_tokens: 6,
    output_tokens: 10,
    cost_usd: 0.0000069,
  });
  const m = await t.metrics();
  const labels = { model: "gpt-4o-mini", tenant: "team-search" };
  assert.equal(total(m, "inference_cost_usd_total", labels), 0.0000069);
  assert.equal(total(m, "inference_input_tokens_total", labels), 6);
  assert.equal(total(m, "inference_output_tokens_total", labels), 10);
  assert.equal(total(m, "inference_requests_total", { ...labels, status: "ok" }), 1);
  assert.equal(
    total(m, "inference_cost_per_request_usd_count", { model: "gpt-4o-mini" }),
    1,
  );
});

Deno.test("the span carries GenAI attributes, the tenant, the cost and the pricing version", async () => {
  const t = testApp();
  await t.post("/v1/inference", { ...EXAMPLE, max_tokens: 64 });
  const spans = t.exporter.getFinishedSpans();
  assert.equal(spans.length, 1);
  const span = spans[0];
  assert.equal(span.name, "inference_request");
  assert.deepEqual(
    {
      op: span.attributes["gen_ai.operation.name"],
      provider: span.attributes["gen_ai.provider.name"],
      model: span.attributes["gen_ai.request.model"],
      responseModel: span.attributes["gen_ai.response.model"],
      maxTokens: span.attributes["gen_ai.request.max_tokens"],
      input: span.attributes["gen_ai.usage.input_tokens"],
      output: span.attributes["gen_ai.usage.output_tokens"],
      cost: span.attributes["inference.cost_usd"],
      tenant: span.attributes["inference.tenant"],
      version: span.attributes["inference.pricing_version"],
      source: span.attributes["inference.usage_source"],
      method: span.attributes["inference.token_count_method"],
    },
    {
      op: "text_completion",
      provider: "simulated",
      model: "gpt-4o-mini",
      responseModel: "gpt-4o-mini",
      maxTokens: 64,
      input: 6,
      output: 10,
      cost: 0.0000069,
      tenant: "team-search",
      version: t.services.prices.version,
      source: "estimated",
      method: "exact",
    },
  );
  assert.equal(span.status.code, 1); // OK
  const prompt = Object.values(span.attributes).some((v) => String(v).includes("transformers"));
  assert.equal(prompt, false, "prompt text must not be on the span by default");
});

Deno.test("both histograms carry the request's trace id as an exemplar", async () => {
  const t = testApp();
  await t.post("/v1/inference", EXAMPLE);
  const traceId = t.exporter.getFinishedSpans()[0].spanContext().traceId;
  const m = await t.metrics();
  for (
    const name of [
      "inference_cost_per_request_usd_bucket",
      "inference_request_duration_seconds_bucket",
    ]
  ) {
    const withExemplar = find(m, name).filter((s) => s.exemplar);
    assert.equal(withExemplar.length, 1, name);
    assert.equal(withExemplar[0].exemplar?.labels.trace_id, traceId);
  }
});

Deno.test("an incoming traceparent is continued", async () => {
  const t = testApp();
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  await t.post("/v1/inference", EXAMPLE, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
  const span = t.exporter.getFinishedSpans()[0];
  assert.equal(span.spanContext().traceId, traceId);
  assert.equal(span.parentSpanContext?.spanId, "00f067aa0ba902b7");
});

Deno.test("an unknown model is rejected with 400 unknown_model and no cost or token moves", async () => {
  const t = testApp();
  const res = await t.post("/v1/inference", { ...EXAMPLE, model: "gpt-4-turbo" });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.error.type, "unknown_model");
  assert.match(body.error.message, /PRICING_FILE/);
  const m = await t.metrics();
  assert.equal(total(m, "inference_cost_usd_total"), 0);
  assert.equal(total(m, "inference_input_tokens_total"), 0);
  assert.deepEqual(
    find(m, "inference_requests_total").filter((s) => s.value > 0).map((s) => s.labels),
    [{ model: "unknown", tenant: "team-search", status: "unknown_model" }],
  );
  assert.equal(t.exporter.getFinishedSpans()[0].status.code, 2); // ERROR
});

Deno.test("with UNPRICED_POLICY=allow an unknown model is served with cost_usd null and counted", async () => {
  const t = testApp({ UNPRICED_POLICY: "allow" });
  const res = await t.post("/v1/inference", { ...EXAMPLE, model: "my-finetune" });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.cost_usd, null);
  assert.ok(body.input_tokens > 0);
  const m = await t.metrics();
  assert.equal(total(m, "inference_unpriced_requests_total", { tenant: "team-search" }), 1);
  assert.equal(total(m, "inference_cost_usd_total"), 0);
  assert.equal(total(m, "inference_input_tokens_total", { model: "unknown" }), body.input_tokens);
  const span = t.exporter.getFinishedSpans()[0];
  assert.equal(span.attributes["inference.cost_usd"], undefined);
  assert.equal(span.attributes["inference.token_count_method"], "estimated");
});

Deno.test("client-chosen model and tenant strings never become label values", async () => {
  const t = testApp({ UNPRICED_POLICY: "allow" });
  for (let i = 0; i < 50; i++) {
    await t.post("/v1/inference", { ...EXAMPLE, model: `m-${i}`, tenant: `t-${i}` });
  }
  const m = await t.metrics();
  const allowedModels = new Set([...t.services.prices.models.keys(), "unknown"]);
  const allowedTenants = new Set(["team-search", "team-chat", "team-internal", "default", "other"]);
  const series = m.samples.filter((s) => s.name.startsWith("inference_"));
  for (const s of series) {
    if (s.labels.model !== undefined) assert.ok(allowedModels.has(s.labels.model), s.labels.model);
    if (s.labels.tenant !== undefined) {
      assert.ok(allowedTenants.has(s.labels.tenant), s.labels.tenant);
    }
  }
  assert.equal(
    total(m, "inference_requests_total", { model: "unknown", tenant: "other", status: "ok" }),
    50,
  );
});

Deno.test("every billable tenant and priced model starts at zero, so rate() sees the first request", async () => {
  const t = testApp();
  const m = await t.metrics();
  for (const tenant of ["team-search", "team-chat", "team-internal", "default", "other"]) {
    for (const model of t.services.prices.models.keys()) {
      for (const name of ["inference_cost_usd_total", "inference_input_tokens_total"]) {
        const found = find(m, name, { model, tenant });
        assert.equal(found.length, 1, `${name} ${model} ${tenant}`);
        assert.equal(found[0].value, 0);
      }
    }
  }
});

Deno.test("bad input gets a JSON error with the right status and moves no cost or token", async () => {
  const t = testApp();
  const cases: [string, RequestInit, number, string][] = [
    ["invalid JSON", { body: "{nope" }, 400, "invalid_json"],
    ["empty body", { body: "" }, 400, "invalid_json"],
    ["prompt missing", { body: JSON.stringify({ model: "gpt-4o" }) }, 400, "invalid_request"],
    ["prompt empty", { body: JSON.stringify({ prompt: "" }) }, 400, "invalid_request"],
    ["prompt a number", { body: JSON.stringify({ prompt: 5 }) }, 400, "invalid_request"],
    [
      "max_tokens 0",
      { body: JSON.stringify({ prompt: "x", max_tokens: 0 }) },
      400,
      "invalid_request",
    ],
    [
      "max_tokens fractional",
      { body: JSON.stringify({ prompt: "x", max_tokens: 1.5 }) },
      400,
      "invalid_request",
    ],
    [
      "max_tokens over the model's",
      { body: JSON.stringify({ prompt: "x", max_tokens: 20000 }) },
      400,
      "invalid_request",
    ],
    ["an array body", { body: "[]" }, 400, "invalid_request"],
    [
      "wrong content type",
      { body: "prompt=x", headers: { "content-type": "text/plain" } },
      415,
      "unsupported_media_type",
    ],
    [
      "invalid UTF-8",
      { body: new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]) },
      400,
      "invalid_json",
    ],
  ];
  for (const [name, init, status, type] of cases) {
    const res = await t.app.request("/v1/inference", {
      method: "POST",
      headers: { "content-type": "application/json", ...(init.headers ?? {}) },
      body: init.body,
    });
    assert.equal(res.status, status, name);
    const body = await res.json();
    assert.equal(body.error.type, type, name);
    assert.equal(typeof body.error.message, "string", name);
  }
  const m = await t.metrics();
  assert.equal(total(m, "inference_cost_usd_total"), 0);
  assert.equal(total(m, "inference_input_tokens_total"), 0);
  assert.equal(total(m, "inference_output_tokens_total"), 0);
  assert.equal(total(m, "inference_requests_total", { status: "bad_request" }), cases.length);
});

Deno.test("a body over MAX_BODY_BYTES is refused with 413 even without a Content-Length", async () => {
  const t = testApp({ MAX_BODY_BYTES: "2048" });
  const big = JSON.stringify({ prompt: "a".repeat(4096) });
  const stream = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(big));
      controller.close();
    },
  });
  const res = await t.app.request("/v1/inference", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: stream,
  });
  assert.equal(res.status, 413);
  assert.equal((await res.json()).error.type, "payload_too_large");
});

Deno.test("unknown routes answer 404 and wrong methods 405, both as JSON", async () => {
  const t = testApp();
  const missing = await t.app.request("/v2/nothing");
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.type, "not_found");
  const wrong = await t.app.request("/v1/inference", { method: "GET" });
  assert.equal(wrong.status, 405);
  assert.equal((await wrong.json()).error.type, "method_not_allowed");
});

Deno.test("text that looks like a special token is ordinary prompt text", async () => {
  const t = testApp();
  const res = await t.post("/v1/inference", {
    prompt: "<|endoftext|> and <|im_start|>",
    model: "gpt-4o",
  });
  assert.equal(res.status, 200);
  assert.ok((await res.json()).input_tokens > 2);
});

Deno.test("with API keys a key decides the tenant and the body cannot override it", async () => {
  const tenants = {
    tenants: [
      { id: "default", hourly_alert_threshold_usd: 25 },
      {
        id: "team-chat",
        hourly_alert_threshold_usd: 100,
        api_keys: [{ name: "chat", sha256: hashApiKey("sk-chat") }],
      },
    ],
  };
  await withJsonFile(tenants, async (path) => {
    const t = testApp({ TENANTS_FILE: path });
    const none = await t.post("/v1/inference", EXAMPLE);
    assert.equal(none.status, 401);
    assert.equal((await none.json()).error.type, "unauthorized");
    const wrong = await t.post("/v1/inference", EXAMPLE, { authorization: "Bearer sk-nope" });
    const wrongBody = await wrong.json();
    assert.equal(wrong.status, 401);
    assert.equal(JSON.stringify(wrongBody).includes("chat"), false);
    const ok = await t.post("/v1/inference", EXAMPLE, { authorization: "Bearer sk-chat" });
    assert.equal(ok.status, 200);
    const viaHeader = await t.post("/v1/inference", EXAMPLE, { "x-api-key": "sk-chat" });
    assert.equal(viaHeader.status, 200);
    const m = await t.metrics();
    assert.equal(
      total(m, "inference_requests_total", { tenant: "team-chat", status: "ok" }),
      2,
    );
    assert.equal(total(m, "inference_requests_total", { tenant: "team-search" }), 0);
  });
});

Deno.test("a tenant over budget gets 429 budget_exceeded with window, limit and reset", async () => {
  const tenants = {
    tenants: [
      { id: "default", hourly_alert_threshold_usd: 25 },
      { id: "tight", hourly_alert_threshold_usd: 1, budgets: { hour: 0.01 } },
    ],
  };
  await withJsonFile(tenants, async (path) => {
    const t = testApp({ TENANTS_FILE: path });
    const req = { ...EXAMPLE, model: "gpt-4o", tenant: "tight", max_tokens: 500 };
    const first = await t.post("/v1/inference", req);
    assert.equal(first.status, 200);
    const firstCost = (await first.json()).cost_usd;
    // Remaining after the first settled: $0.01 minus its actual cost.
    assert.equal(Number(first.headers.get("x-budget-remaining-hour-usd")) > 0.004, true);
    // Worst case of this one: 6 × $2.5/1M + 1000 × $10/1M = $0.010015 > what is left.
    const refused = await t.post("/v1/inference", { ...req, max_tokens: 1000 });
    assert.equal(refused.status, 429);
    const body = await refused.json();
    assert.equal(body.error.type, "budget_exceeded");
    assert.equal(body.error.window, "hour");
    assert.equal(body.error.limit_usd, 0.01);
    assert.equal(body.error.spent_usd, firstCost);
    assert.match(body.error.resets_at, /^\d{4}-\d{2}-\d{2}T\d{2}:00:00\.000Z$/);
    assert.ok(Number(refused.headers.get("retry-after")) >= 1);
    const m = await t.metrics();
    assert.equal(total(m, "inference_requests_total", { status: "budget_exceeded" }), 1);
    assert.equal(
      total(m, "inference_budget_spent_usd", { tenant: "tight", window: "hour" }),
      firstCost,
    );
    assert.equal(total(m, "inference_budget_limit_usd", { tenant: "tight", window: "hour" }), 0.01);
  });
});

Deno.test("GET /health lists the models and /ready reports readiness", async () => {
  const t = testApp();
  const health = await (await t.app.request("/health")).json();
  assert.equal(health.status, "ok");
  assert.ok(health.models.includes("gpt-4o-mini"));
  assert.equal((await t.app.request("/ready")).status, 200);
  t.readiness.ready = false;
  assert.equal((await t.app.request("/ready")).status, 503);
});

Deno.test("with TRACE_CONTENT=true the span carries the prompt and the reply", async () => {
  const t = testApp({ TRACE_CONTENT: "true" });
  await t.post("/v1/inference", EXAMPLE);
  const span = t.exporter.getFinishedSpans()[0];
  assert.equal(span.attributes["gen_ai.prompt"], EXAMPLE.prompt);
  assert.equal(
    span.attributes["gen_ai.completion"],
    "Response to: Explain transformers in 3 sentences...",
  );
});

Deno.test("a client that goes away mid-generation is recorded client_closed with its prompt billed", async () => {
  const t = testApp({ SIM_MODE: "realistic", SIM_TTFT_MS: "60000" });
  const controller = new AbortController();
  const pending = t.app.request(
    new Request("http://local/v1/inference", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(EXAMPLE),
      signal: controller.signal,
    }),
  );
  await eventually(
    "one request in flight",
    within(5_000),
    async () => total(await t.metrics(), "inference_in_flight_requests") === 1,
  );
  controller.abort();
  const res = await pending;
  assert.equal(res.status, 499);
  const m = await t.metrics();
  const labels = { model: "gpt-4o-mini", tenant: "team-search" };
  assert.equal(total(m, "inference_requests_total", { ...labels, status: "client_closed" }), 1);
  assert.equal(total(m, "inference_input_tokens_total", labels), 6);
  assert.equal(total(m, "inference_output_tokens_total", labels), 0);
  assert.equal(total(m, "inference_cost_usd_total", labels), 6 * 0.15 / 1e6);
});

Deno.test("other is held to and exports the default tenant's budgets", async () => {
  const tenants = {
    tenants: [{ id: "default", hourly_alert_threshold_usd: 25, budgets: { day: 0.001 } }],
  };
  await withJsonFile(tenants, async (path) => {
    const t = testApp({ TENANTS_FILE: path });
    const ok = await t.post("/v1/inference", { prompt: "hi", max_tokens: 100, tenant: "walk-in" });
    const cost = (await ok.json()).cost_usd;
    const m = await t.metrics();
    assert.equal(total(m, "inference_budget_limit_usd", { tenant: "other", window: "day" }), 0.001);
    assert.equal(total(m, "inference_budget_spent_usd", { tenant: "other", window: "day" }), cost);
    assert.equal(
      total(m, "inference_budget_limit_usd", { tenant: "default", window: "day" }),
      0.001,
    );
    assert.equal(total(m, "inference_budget_spent_usd", { tenant: "default", window: "day" }), 0);
  });
});
