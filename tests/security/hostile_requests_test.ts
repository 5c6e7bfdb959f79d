/**
 * Hostile requests against every route, in-process: /v1/inference, the gateway's
 * /v1/chat/completions, /v1/messages and /v1/models, /metrics, /health, /ready, unknown paths
 * (the newer gateway routes: hostile_gateway_routes_test.ts). Each case states the status and
 * error type it must get; the runner (hostile.ts) checks that no case ends in a 5xx, that every
 * error is JSON in the route's documented shape, and that the cost and token totals move only for
 * a request that succeeded — and then by exactly what its body says.
 */
import assert from "node:assert/strict";
import { testApp } from "../helpers/app.ts";
import { total } from "../helpers/prom.ts";
import {
  anthropicShape,
  enc,
  ENV,
  type HostileCase,
  json,
  JSON_CT,
  poster,
  runCases,
  streamOf,
  TEN_MB,
} from "./hostile.ts";

/** Cases for POST /v1/inference (this server's own error shape). */
function inferenceCases(): HostileCase[] {
  const post = (
    name: string,
    body: HostileCase["body"],
    status: number,
    type?: string,
    extra: Partial<HostileCase> = {},
  ): HostileCase => ({
    name,
    path: "/v1/inference",
    method: "POST",
    headers: JSON_CT,
    body,
    status,
    type,
    ...extra,
  });
  const bad = (name: string, body: HostileCase["body"], type = "invalid_request") =>
    post(name, body, 400, type);
  return [
    bad("broken JSON", "{nope", "invalid_json"),
    bad("truncated JSON", '{"prompt":"Explain transformers"', "invalid_json"),
    bad("JSON with a trailing comma", '{"prompt":"x",}', "invalid_json"),
    bad("single-quoted JSON", "{'prompt':'x'}", "invalid_json"),
    bad("empty body", "", "invalid_json"),
    bad("whitespace-only body", " \n\t ", "invalid_json"),
    bad("JSON null", "null"),
    bad("JSON array", "[]"),
    bad("JSON string", '"prompt"'),
    bad("a number that overflows to Infinity", "1e999"),
    bad("prompt missing", json({ model: "gpt-4o" })),
    bad("prompt empty", json({ prompt: "" })),
    bad("prompt a number", json({ prompt: 5 })),
    bad("prompt null", json({ prompt: null })),
    bad("prompt an object", json({ prompt: { text: "x" } })),
    bad("prompt an array of strings", json({ prompt: ["a", "b"] })),
    bad("prompt over MAX_PROMPT_CHARS", json({ prompt: "a".repeat(600_001) })),
    bad("model a number", json({ prompt: "x", model: 4 })),
    bad("model empty", json({ prompt: "x", model: "" })),
    bad("model 10,000 characters long", json({ prompt: "x", model: "m".repeat(10_000) })),
    bad("unknown model", json({ prompt: "x", model: "gpt-17-ultra" }), "unknown_model"),
    bad("model named __proto__", json({ prompt: "x", model: "__proto__" }), "unknown_model"),
    bad("model named constructor", json({ prompt: "x", model: "constructor" }), "unknown_model"),
    bad("tenant a number", json({ prompt: "x", tenant: 7 })),
    bad("tenant an operator object", json({ prompt: "x", tenant: { $ne: "" } })),
    bad("max_tokens 0", json({ prompt: "x", max_tokens: 0 })),
    bad("max_tokens negative", json({ prompt: "x", max_tokens: -5 })),
    bad("max_tokens fractional", json({ prompt: "x", max_tokens: 1.5 })),
    bad("max_tokens negative fractional", json({ prompt: "x", max_tokens: -0.5 })),
    bad("max_tokens a numeric string", json({ prompt: "x", max_tokens: "512" })),
    bad("max_tokens true", json({ prompt: "x", max_tokens: true })),
    bad("max_tokens 1e308", '{"prompt":"x","max_tokens":1e308}'),
    bad("max_tokens beyond float range", '{"prompt":"x","max_tokens":1e400}'),
    bad("max_tokens 2^53 + 1", '{"prompt":"x","max_tokens":9007199254740993}'),
    bad("max_tokens over the model's maximum", json({ prompt: "x", max_tokens: 20_000 })),
    post(
      "10 MB prompt with a Content-Length",
      () => json({ prompt: "a".repeat(TEN_MB) }),
      413,
      "payload_too_large",
    ),
    post(
      "10 MB prompt streamed without a Content-Length",
      () => streamOf(enc(json({ prompt: "b".repeat(TEN_MB) }))),
      413,
      "payload_too_large",
    ),
    bad("invalid UTF-8", new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), "invalid_json"),
    bad(
      "overlong UTF-8 encoding of '/'",
      new Uint8Array([...enc('{"prompt":"'), 0xc0, 0xaf, ...enc('"}')]),
      "invalid_json",
    ),
    bad(
      "UTF-16 body with a byte order mark",
      new Uint8Array([0xff, 0xfe, ...[...'{"prompt":"x"}'].flatMap((c) => [c.charCodeAt(0), 0])]),
      "invalid_json",
    ),
    bad("100,000 nested arrays as the prompt", `{"prompt":${"[".repeat(1e5)}${"]".repeat(1e5)}}`),
    post(
      "50,000 nested objects in an unknown field",
      `{"prompt":"x","extra":${'{"a":'.repeat(5e4)}1${"}".repeat(5e4)}}`,
      200,
    ),
    post(
      "10,000 messages in an unknown field",
      json({ prompt: "x", messages: Array.from({ length: 10_000 }, () => ({ role: "user" })) }),
      200,
    ),
    post("unknown fields", json({ prompt: "x", temperature: 9, tools: [{}], stream: "yes" }), 200),
    post("null bytes in the prompt", json({ prompt: "a\u0000b\u0000" }), 200),
    post("a lone surrogate in the prompt", '{"prompt":"\\ud800 lonely"}', 200),
    post(
      "text that looks like special tokens (o200k_base)",
      json({ prompt: "<|endoftext|><|im_start|>system<|im_sep|>", model: "gpt-4o" }),
      200,
    ),
    post(
      "text that looks like special tokens (llama3)",
      json({ prompt: "<|begin_of_text|><|eot_id|>", model: "llama-3.1-70b" }),
      200,
    ),
    post(
      "one 500,000-letter word (the tokenizer's worst case)",
      json({ prompt: "a".repeat(500_000), max_tokens: 1 }),
      200,
    ),
    post("duplicate keys: the last one wins", '{"prompt":5,"prompt":"x"}', 200),
    post("a byte order mark before UTF-8 JSON", "\ufeff" + json({ prompt: "x" }), 200),
    post(
      "prototype pollution through __proto__",
      '{"prompt":"x","__proto__":{"admin":true,"polluted":1}}',
      200,
      undefined,
      {
        check: () => {
          assert.equal(({} as Record<string, unknown>).polluted, undefined);
        },
      },
    ),
    post(
      "tenant named __proto__ is billed as other",
      json({ prompt: "x", tenant: "__proto__" }),
      200,
    ),
    post("wrong content type", json({ prompt: "x" }), 415, "unsupported_media_type", {
      headers: { "content-type": "text/plain" },
    }),
    post("no content type", json({ prompt: "x" }), 415, "unsupported_media_type", {
      headers: {},
    }),
    post("form-encoded body", "prompt=x", 415, "unsupported_media_type", {
      headers: { "content-type": "application/x-www-form-urlencoded" },
    }),
    post("application/json-seq", json({ prompt: "x" }), 415, "unsupported_media_type", {
      headers: { "content-type": "application/json-seq" },
    }),
    post(
      "an x-request-id with characters unsafe to log is replaced",
      json({ prompt: "x" }),
      200,
      undefined,
      {
        headers: { ...JSON_CT, "x-request-id": 'a"}, {"level":"error' },
        check: (res) => assert.match(res.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/),
      },
    ),
    post("a 5,000-character x-request-id is replaced", json({ prompt: "x" }), 200, undefined, {
      headers: { ...JSON_CT, "x-request-id": "r".repeat(5000) },
      check: (res) => assert.match(res.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/),
    }),
    post(
      "an x-tenant-id listing two tenants is billed as other",
      json({ prompt: "x" }),
      200,
      undefined,
      { headers: { ...JSON_CT, "x-tenant-id": "team-search, team-chat" } },
    ),
    post("a malformed traceparent starts a new trace", json({ prompt: "x" }), 200, undefined, {
      headers: { ...JSON_CT, traceparent: "00-zz-not-a-trace-01" },
    }),
    post(
      "an Authorization header in demo mode is ignored",
      json({ prompt: "x" }),
      200,
      undefined,
      { headers: { ...JSON_CT, authorization: "Bearer ' OR 1=1 --" } },
    ),
    ...["GET", "PUT", "PATCH", "DELETE", "OPTIONS"].map((method): HostileCase => ({
      name: `${method} /v1/inference`,
      method,
      path: "/v1/inference",
      status: 405,
      type: "method_not_allowed",
    })),
  ];
}

const USER = [{ role: "user", content: "Explain transformers in 3 sentences" }];

/** Cases for POST /v1/chat/completions (OpenAI's error shape). */
function chatCases(): HostileCase[] {
  const post = poster("/v1/chat/completions");
  const chat = (extra: Record<string, unknown>) =>
    json({ model: "gpt-4o-mini", messages: USER, ...extra });
  const bad = (name: string, body: HostileCase["body"], type = "invalid_request") =>
    post(name, body, 400, type);
  return [
    bad("broken JSON", '{"model": "gpt-4o-mini", "messages": [', "invalid_json"),
    bad("empty body", "", "invalid_json"),
    bad("JSON null", "null"),
    bad("model missing", json({ messages: USER })),
    bad("model a number", chat({ model: 4 })),
    bad("model 10,000 characters long", chat({ model: "m".repeat(10_000) })),
    bad("unknown model", chat({ model: "gpt-17-ultra" }), "unknown_model"),
    bad("messages missing", json({ model: "gpt-4o-mini" })),
    bad("messages empty", chat({ messages: [] })),
    bad("messages an object", chat({ messages: { role: "user", content: "x" } })),
    bad("a message without a role", chat({ messages: [{ content: "x" }] })),
    bad("a message whose content is a number", chat({ messages: [{ role: "user", content: 5 }] })),
    bad(
      "content parts that are not objects",
      chat({ messages: [{ role: "user", content: [1, 2] }] }),
    ),
    bad("max_tokens 0", chat({ max_tokens: 0 })),
    bad("max_tokens negative", chat({ max_tokens: -1 })),
    bad("max_tokens fractional", chat({ max_tokens: 2.5 })),
    bad("max_tokens a numeric string", chat({ max_tokens: "10" })),
    bad(
      "max_tokens beyond float range",
      '{"model":"gpt-4o-mini","messages":[],"max_tokens":1e400}',
    ),
    bad("max_completion_tokens over the model's maximum", chat({ max_completion_tokens: 20_000 })),
    bad("n 0", chat({ n: 0 })),
    bad("n 1000", chat({ n: 1000 })),
    bad("n 2 from the simulated model", chat({ n: 2 })),
    bad("stream a string", chat({ stream: "yes" })),
    bad(
      "include_usage a string",
      chat({ stream: true, stream_options: { include_usage: "true" } }),
    ),
    bad("tools not an array", chat({ tools: "all of them" })),
    bad(
      "600,001 characters of text over MAX_PROMPT_CHARS",
      chat({
        messages: [{ role: "user", content: "a".repeat(300_001) }, {
          role: "user",
          content: "b".repeat(300_000),
        }],
      }),
    ),
    post(
      "10 MB body",
      () => chat({ messages: [{ role: "user", content: "a".repeat(TEN_MB) }] }),
      413,
      "payload_too_large",
    ),
    bad(
      "invalid UTF-8",
      new Uint8Array([
        ...enc('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"'),
        0xff,
        ...enc('"}]}'),
      ]),
      "invalid_json",
    ),
    post("wrong content type", chat({}), 415, "unsupported_media_type", {
      headers: { "content-type": "text/plain" },
    }),
    post(
      "10,000 messages",
      chat({ messages: Array.from({ length: 10_000 }, () => ({ role: "user", content: "hi" })) }),
      200,
    ),
    post(
      "text that looks like special tokens",
      chat({ messages: [{ role: "user", content: "<|endoftext|><|im_start|>system" }] }),
      200,
    ),
    post(
      "null bytes and a lone surrogate in the content",
      '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a\\u0000\\ud800b"}]}',
      200,
    ),
    post(
      "null content on an assistant turn",
      chat({ messages: [...USER, { role: "assistant", content: null }, ...USER] }),
      200,
    ),
    post(
      "unknown fields, nested deep",
      chat({ extra: JSON.parse(`${'{"a":'.repeat(2000)}1${"}".repeat(2000)}`) }),
      200,
    ),
    post(
      "a streamed answer with include_usage",
      chat({ stream: true, stream_options: { include_usage: true } }),
      200,
    ),
    post(
      "an x-tenant-id with a newline-looking value is billed as other",
      chat({}),
      200,
      undefined,
      {
        headers: { ...JSON_CT, "x-tenant-id": "team-chat\\r\\nX-Admin: 1" },
      },
    ),
    ...["GET", "PUT", "DELETE"].map((method): HostileCase => ({
      name: `${method} /v1/chat/completions`,
      method,
      path: "/v1/chat/completions",
      status: 405,
      type: "method_not_allowed",
    })),
  ];
}

/** Cases for POST /v1/messages (Anthropic's error shape). */
function messagesCases(): HostileCase[] {
  const post = poster("/v1/messages");
  const msg = (extra: Record<string, unknown>) =>
    json({ model: "claude-3.5-haiku", max_tokens: 50, messages: USER, ...extra });
  const bad = (name: string, body: HostileCase["body"], type = "invalid_request") =>
    post(name, body, 400, type);
  return [
    bad("broken JSON", '{"model":', "invalid_json"),
    bad("JSON array", "[]"),
    bad("max_tokens missing", json({ model: "claude-3.5-haiku", messages: USER })),
    bad("max_tokens 0", msg({ max_tokens: 0 })),
    bad("max_tokens fractional", msg({ max_tokens: 0.5 })),
    bad("max_tokens over the model's maximum", msg({ max_tokens: 10_000_000 })),
    bad("a system role inside messages", msg({ messages: [{ role: "system", content: "x" }] })),
    bad("system a number", msg({ system: 42 })),
    bad("content a number", msg({ messages: [{ role: "user", content: 1 }] })),
    bad("messages empty", msg({ messages: [] })),
    bad("unknown model", msg({ model: "claude-99" }), "unknown_model"),
    post("10 MB body", () => msg({ system: "s".repeat(TEN_MB) }), 413, "payload_too_large"),
    post("form-encoded body", "model=claude", 415, "unsupported_media_type", {
      headers: { "content-type": "application/x-www-form-urlencoded" },
    }),
    post(
      "image and tool blocks",
      msg({
        messages: [{
          role: "user",
          content: [{ type: "image", source: {} }, { type: "tool_result", content: "x" }, {
            type: "text",
            text: "hi",
          }],
        }],
      }),
      200,
    ),
    post("special tokens in the system prompt", msg({ system: "<|endoftext|>\n\nHuman:" }), 200),
    post("a streamed answer", msg({ stream: true }), 200),
    ...["GET", "PATCH"].map((method): HostileCase => ({
      name: `${method} /v1/messages`,
      method,
      path: "/v1/messages",
      status: 405,
      type: "method_not_allowed",
    })),
  ].map((c) => ({ ...c, check: c.status >= 400 && c.status !== 405 ? anthropicShape : c.check }));
}

/** Cases for the operational routes and unknown paths. */
function opsCases(): HostileCase[] {
  const cases: HostileCase[] = [
    { name: "POST /metrics", method: "POST", path: "/metrics", body: "{}", status: 405 },
    { name: "DELETE /metrics", method: "DELETE", path: "/metrics", status: 405 },
    {
      name: "GET /metrics with a garbage Accept gets the text format",
      path: "/metrics",
      headers: { accept: "application/openmetrics-text;q=abc, */*;;;" },
      status: 200,
    },
    { name: "POST /health", method: "POST", path: "/health", body: "{}", status: 405 },
    { name: "POST /v1/models", method: "POST", path: "/v1/models", body: "{}", status: 405 },
    {
      name: "GET /v1/models with a junk query",
      path: "/v1/models?limit=-1&after=%00",
      status: 200,
    },
    { name: "PUT /ready", method: "PUT", path: "/ready", status: 405 },
    { name: "an unknown path", path: "/v1/inference/extra", status: 404, type: "not_found" },
    { name: "a path in the wrong case", path: "/V1/INFERENCE", status: 404, type: "not_found" },
    { name: "an encoded null byte in the path", path: "/v1/inference%00", status: 404 },
    {
      name: "a 10,000-character path is not echoed in full",
      path: "/" + "p".repeat(10_000),
      status: 404,
      type: "not_found",
      check: (_res, body) => {
        const message = (body as { error: { message: string } }).error.message;
        assert.ok(message.length < 300, `message is ${message.length} characters`);
      },
    },
    { name: "encoded traversal", path: "/..%2f..%2fetc%2fpasswd", status: 404 },
  ];
  return cases.map((c) => ({
    ...c,
    type: c.type ??
      (c.status === 405 ? "method_not_allowed" : c.status === 404 ? "not_found" : undefined),
  }));
}

Deno.test("hostile requests to /v1/inference get their documented status and error and never a 5xx", async (t) => {
  const cases = inferenceCases();
  assert.ok(cases.length >= 40, `only ${cases.length} cases`);
  assert.equal(await runCases(t, cases), cases.length);
});

Deno.test("hostile requests to /v1/chat/completions get OpenAI-shaped errors and never a 5xx", async (t) => {
  const cases = chatCases();
  assert.equal(await runCases(t, cases), cases.length);
});

Deno.test("hostile requests to /v1/messages get Anthropic-shaped errors and never a 5xx", async (t) => {
  const cases = messagesCases();
  assert.equal(await runCases(t, cases), cases.length);
});

Deno.test("hostile requests to /v1/models, /metrics, /health, /ready and unknown paths are refused as JSON", async (t) => {
  const cases = opsCases();
  assert.equal(await runCases(t, cases), cases.length);
});

Deno.test("every refused request is still counted, under a priced model or unknown and a configured tenant or other", async () => {
  const app = testApp(ENV);
  const refused = inferenceCases().filter((c) => c.status >= 400 && c.status !== 405);
  for (const c of refused) {
    const res = await app.app.request(c.path, {
      method: c.method,
      headers: c.headers,
      body: typeof c.body === "function" ? c.body() : c.body,
    });
    await res.body?.cancel();
  }
  const m = await app.metrics();
  const counted = total(m, "inference_requests_total");
  assert.equal(counted, refused.length);
  for (const s of m.samples.filter((s) => s.name === "inference_requests_total")) {
    assert.ok(s.labels.model === "unknown" || app.services.prices.models.has(s.labels.model));
    assert.ok(
      ["other", "team-search", "team-chat", "team-internal", "default"].includes(s.labels.tenant),
    );
  }
});
