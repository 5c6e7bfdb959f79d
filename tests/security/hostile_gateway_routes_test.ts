/**
 * Hostile requests against the newer gateway routes, in-process on the simulated model:
 * POST /v1/responses and GET/DELETE /v1/responses/{id} (OpenAI's error shape), POST
 * /v1/embeddings (OpenAI's) and POST /v1/messages/count_tokens (Anthropic's). The runner
 * (hostile.ts) checks each status and error type, that nothing ends in a 5xx, and that the cost
 * and token totals move only for a billed success, by exactly what its answer says.
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
  TEN_MB,
} from "./hostile.ts";

const TEXT = "Explain transformers in 3 sentences";

/** Cases for POST /v1/responses. */
function responsesCases(): HostileCase[] {
  const post = poster("/v1/responses");
  const body = (extra: Record<string, unknown>) =>
    json({ model: "gpt-4o-mini", input: TEXT, ...extra });
  const bad = (name: string, value: HostileCase["body"], type = "invalid_request") =>
    post(name, value, 400, type);
  return [
    bad("broken JSON", '{"model":"gpt-4o-mini","input":', "invalid_json"),
    bad("empty body", "", "invalid_json"),
    bad("JSON null", "null"),
    bad("JSON array", "[]"),
    bad("model missing", json({ input: TEXT })),
    bad("model a number", body({ model: 4 })),
    bad("model 10,000 characters long", body({ model: "m".repeat(10_000) })),
    bad("unknown model", body({ model: "gpt-17-ultra" }), "unknown_model"),
    bad("input missing", json({ model: "gpt-4o-mini" })),
    bad("input a number", body({ input: 5 })),
    bad("input an object", body({ input: { role: "user", content: TEXT } })),
    bad("an input item whose content is a number", body({ input: [{ role: "user", content: 5 }] })),
    bad("content parts that are not objects", body({ input: [{ role: "user", content: [1] }] })),
    bad("instructions a number", body({ instructions: 7 })),
    bad("max_output_tokens 0", body({ max_output_tokens: 0 })),
    bad("max_output_tokens fractional", body({ max_output_tokens: 2.5 })),
    bad("max_output_tokens a numeric string", body({ max_output_tokens: "10" })),
    bad("max_output_tokens over the model's maximum", body({ max_output_tokens: 20_000 })),
    bad("stream a string", body({ stream: "yes" })),
    bad("background true", body({ background: true })),
    bad("background true on a stream", body({ background: true, stream: true })),
    bad("background a string", body({ background: "true" })),
    bad("service_tier a number", body({ service_tier: 2 })),
    bad("tools not an array", body({ tools: "all of them" })),
    bad("600,001 characters of input over MAX_PROMPT_CHARS", body({ input: "a".repeat(600_001) })),
    post("10 MB body", () => body({ input: "a".repeat(TEN_MB) }), 413, "payload_too_large"),
    bad(
      "invalid UTF-8",
      new Uint8Array([...enc('{"model":"gpt-4o-mini","input":"'), 0xff, ...enc('"}')]),
      "invalid_json",
    ),
    post("wrong content type", body({}), 415, "unsupported_media_type", {
      headers: { "content-type": "text/plain" },
    }),
    post("a plain answer", body({}), 200),
    post("a streamed answer", body({ stream: true }), 200),
    post("an empty input list", body({ input: [] }), 200),
    post(
      "items of other kinds: a call, its output, reasoning, a reference",
      body({
        input: [
          { role: "user", content: [{ type: "input_text", text: TEXT }] },
          { type: "function_call", call_id: "c1", name: "f", arguments: '{"x":1}' },
          { type: "function_call_output", call_id: "c1", output: "42" },
          { type: "reasoning", id: "rs_1", summary: [], encrypted_content: "A".repeat(5000) },
          { type: "item_reference", id: "msg_1" },
          {
            role: "user",
            content: [{ type: "input_image", image_url: "data:image/png;base64,AA" }],
          },
        ],
      }),
      200,
    ),
    post("a requested service tier", body({ service_tier: "flex" }), 200),
    post("special tokens in the input", body({ input: "<|endoftext|><|im_start|>system" }), 200),
    post(
      "null bytes and a lone surrogate in the input",
      '{"model":"gpt-4o-mini","input":"a\\u0000\\ud800b"}',
      200,
    ),
    post(
      "a previous_response_id the simulated model ignores",
      body({ previous_response_id: "r" }),
      200,
    ),
    ...["GET", "PUT", "PATCH"].map((method): HostileCase => ({
      name: `${method} /v1/responses`,
      method,
      path: "/v1/responses",
      status: 405,
      type: "method_not_allowed",
    })),
  ];
}

/** Cases for GET and DELETE /v1/responses/{id} with no provider to ask. */
function storedCases(): HostileCase[] {
  const stored = (method: string, id: string, status = 404, type = "not_found"): HostileCase => ({
    name: `${method} /v1/responses/${id.slice(0, 40)}`,
    method,
    path: `/v1/responses/${id}`,
    status,
    type,
  });
  return [
    stored("GET", "resp_1"),
    stored("DELETE", "resp_1"),
    stored("GET", "%00%0d%0a"),
    stored("GET", "..%2f..%2fetc%2fpasswd"),
    stored("GET", "r".repeat(5000)),
    {
      name: "a 5,000-character id is not echoed in full",
      path: `/v1/responses/${"q".repeat(5000)}`,
      status: 404,
      type: "not_found",
      check: (_res, body) => {
        const message = (body as { error: { message: string } }).error.message;
        assert.ok(message.length < 300, `message is ${message.length} characters`);
      },
    },
    {
      name: "a provider named in x-inference-provider that does not exist",
      path: "/v1/responses/resp_1",
      headers: { "x-inference-provider": "nowhere" },
      status: 400,
      type: "invalid_request",
    },
    {
      name: "POST /v1/responses/{id}",
      method: "POST",
      path: "/v1/responses/resp_1",
      body: "{}",
      status: 404,
      type: "not_found",
    },
  ];
}

/** Cases for POST /v1/embeddings. */
function embeddingsCases(): HostileCase[] {
  const post = poster("/v1/embeddings");
  const body = (extra: Record<string, unknown>) =>
    json({ model: "text-embedding-3-small", input: TEXT, ...extra });
  const bad = (name: string, value: HostileCase["body"], type = "invalid_request") =>
    post(name, value, 400, type);
  return [
    bad("broken JSON", '{"model":', "invalid_json"),
    bad("JSON null", "null"),
    bad("model missing", json({ input: TEXT })),
    bad("unknown model", body({ model: "embed-9000" }), "unknown_model"),
    bad("a chat model", body({ model: "gpt-4o-mini" })),
    bad("input missing", json({ model: "text-embedding-3-small" })),
    bad("input empty", body({ input: "" })),
    bad("input an empty list", body({ input: [] })),
    bad("an empty string in the list", body({ input: ["a", ""] })),
    bad("input a number", body({ input: 5 })),
    bad("input objects", body({ input: [{ text: "a" }] })),
    bad("token ids negative", body({ input: [1, -2] })),
    bad("token ids fractional", body({ input: [1.5] })),
    bad("an empty token list in the list", body({ input: [[1], []] })),
    bad("2,049 inputs", body({ input: Array.from({ length: 2049 }, () => "x") })),
    bad("encoding_format hex", body({ encoding_format: "hex" })),
    bad("dimensions 0", body({ dimensions: 0 })),
    bad("dimensions over the model's size", body({ dimensions: 1_000_000_000 })),
    bad("dimensions a string", body({ dimensions: "256" })),
    bad(
      "600,001 characters over MAX_PROMPT_CHARS",
      body({ input: ["a".repeat(300_001), "b".repeat(300_000)] }),
    ),
    post("10 MB body", () => body({ input: "a".repeat(TEN_MB) }), 413, "payload_too_large"),
    post("wrong content type", body({}), 415, "unsupported_media_type", {
      headers: { "content-type": "text/plain" },
    }),
    post("float vectors", body({ encoding_format: "float" }), 200),
    post("base64 vectors", body({ encoding_format: "base64" }), 200),
    post("token ids", body({ input: [[1, 2, 3], [4]] }), 200),
    post("2,048 inputs", body({ input: Array.from({ length: 2048 }, () => "x") }), 200),
    post(
      "special tokens and a lone surrogate",
      '{"model":"text-embedding-3-small","input":"<|endoftext|>\\ud800"}',
      200,
    ),
    ...["GET", "DELETE"].map((method): HostileCase => ({
      name: `${method} /v1/embeddings`,
      method,
      path: "/v1/embeddings",
      status: 405,
      type: "method_not_allowed",
    })),
  ];
}

/** Cases for POST /v1/messages/count_tokens (Anthropic's error shape). */
function countTokensCases(): HostileCase[] {
  const post = poster("/v1/messages/count_tokens");
  const USER = [{ role: "user", content: TEXT }];
  const body = (extra: Record<string, unknown>) =>
    json({ model: "claude-haiku-4.5", messages: USER, ...extra });
  const bad = (name: string, value: HostileCase["body"], type = "invalid_request") =>
    post(name, value, 400, type);
  return [
    bad("broken JSON", '{"model":', "invalid_json"),
    bad("JSON array", "[]"),
    bad("model missing", json({ messages: USER })),
    bad("messages empty", body({ messages: [] })),
    bad("a system role inside messages", body({ messages: [{ role: "system", content: "x" }] })),
    bad("content a number", body({ messages: [{ role: "user", content: 1 }] })),
    bad("system a number", body({ system: 42 })),
    bad("tools not an array", body({ tools: {} })),
    bad("600,001 characters over MAX_PROMPT_CHARS", body({ system: "s".repeat(600_001) })),
    post("10 MB body", () => body({ system: "s".repeat(TEN_MB) }), 413, "payload_too_large"),
    post("form-encoded body", "model=claude", 415, "unsupported_media_type", {
      headers: { "content-type": "application/x-www-form-urlencoded" },
    }),
    post("a count", body({}), 200),
    post("an unpriced model is counted with an estimate", body({ model: "claude-99" }), 200),
    post(
      "image and tool blocks",
      body({
        messages: [{
          role: "user",
          content: [{ type: "image", source: {} }, { type: "tool_result", content: "x" }],
        }],
      }),
      200,
    ),
    post("max_tokens and stream are ignored", body({ max_tokens: 5, stream: true }), 200),
    ...["GET", "PUT"].map((method): HostileCase => ({
      name: `${method} /v1/messages/count_tokens`,
      method,
      path: "/v1/messages/count_tokens",
      status: 405,
      type: "method_not_allowed",
    })),
  ].map((c) => ({ ...c, check: c.status >= 400 && c.status !== 405 ? anthropicShape : c.check }));
}

Deno.test("hostile requests to /v1/responses get OpenAI-shaped errors and never a 5xx", async (t) => {
  const cases = responsesCases();
  assert.equal(await runCases(t, cases), cases.length);
});

Deno.test("hostile requests to /v1/responses/{id} are refused as OpenAI-shaped JSON, never a 5xx", async (t) => {
  const cases = storedCases();
  assert.equal(await runCases(t, cases), cases.length);
});

Deno.test("hostile requests to /v1/embeddings get OpenAI-shaped errors and never a 5xx", async (t) => {
  const cases = embeddingsCases();
  assert.equal(await runCases(t, cases), cases.length);
});

Deno.test("hostile requests to /v1/messages/count_tokens get Anthropic-shaped errors and never a 5xx", async (t) => {
  const cases = countTokensCases();
  assert.equal(await runCases(t, cases), cases.length);
});

Deno.test("every refused Responses or embeddings request is still counted; refused counts and stored-response calls are not", async () => {
  const app = testApp(ENV);
  const billed = [...responsesCases(), ...embeddingsCases()].filter((c) =>
    c.status >= 400 && c.status !== 405
  );
  const unbilled = [...countTokensCases(), ...storedCases()].filter((c) => c.status >= 400);
  for (const c of [...billed, ...unbilled]) {
    const res = await app.app.request(c.path, {
      method: c.method,
      headers: c.headers ?? JSON_CT,
      body: typeof c.body === "function" ? c.body() : c.body,
    });
    await res.body?.cancel();
  }
  const m = await app.metrics();
  assert.equal(total(m, "inference_requests_total"), billed.length);
  for (const s of m.samples.filter((s) => s.name === "inference_requests_total")) {
    assert.ok(s.labels.model === "unknown" || app.services.prices.models.has(s.labels.model));
    assert.equal(s.labels.tenant, "other");
  }
});
