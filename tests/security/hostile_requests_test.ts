/**
 * Hostile requests against every route, in-process. Each case states the status and error type
 * it must get, and the test checks that no case ends in a 5xx, that every error is JSON in the
 * route's documented shape, and that the cost and token totals move only for a request that
 * succeeded — and then by exactly what its body says.
 */
import assert from "node:assert/strict";
import { testApp } from "../helpers/app.ts";
import { type Exposition, total } from "../helpers/prom.ts";

type Body = string | Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array>;

/** One hostile request and what it must get back. */
interface HostileCase {
  readonly name: string;
  readonly method?: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: Body | (() => Body);
  readonly status: number;
  /** The documented error type; absent for a success. */
  readonly type?: string;
  /** Extra checks on the response. */
  readonly check?: (res: Response, body: unknown) => void;
}

const JSON_CT = { "content-type": "application/json" };
const json = (value: unknown) => JSON.stringify(value);
const enc = (text: string) => new TextEncoder().encode(text);
const TEN_MB = 10 * 1024 * 1024;
/** A prompt limit below the 1 MiB body limit, so both can be crossed. */
const ENV = { MAX_PROMPT_CHARS: "600000", LOG_LEVEL: "silent" };

function streamOf(bytes: Uint8Array<ArrayBuffer>, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, offset += chunk));
    },
  });
}

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

/** The error type in this server's, OpenAI's or Anthropic's error shape. */
function errorTypeOf(body: unknown): string | undefined {
  const b = body as { error?: { type?: unknown } } | null;
  return typeof b?.error?.type === "string" ? b.error.type : undefined;
}

interface Totals {
  cost: number;
  input: number;
  output: number;
  cached: number;
}

function totalsOf(m: Exposition): Totals {
  return {
    cost: total(m, "inference_cost_usd_total"),
    input: total(m, "inference_input_tokens_total"),
    output: total(m, "inference_output_tokens_total"),
    cached: total(m, "inference_cached_input_tokens_total"),
  };
}

/** Runs every case on one app; returns how many ran. */
async function runCases(t: Deno.TestContext, cases: HostileCase[]): Promise<number> {
  const app = testApp(ENV);
  let ran = 0;
  for (const c of cases) {
    await t.step(`${c.name} → ${c.status}${c.type ? " " + c.type : ""}`, async () => {
      const before = totalsOf(await app.metrics());
      const started = performance.now();
      const res = await app.app.request(c.path, {
        method: c.method ?? "GET",
        headers: c.headers,
        body: typeof c.body === "function" ? c.body() : c.body,
      });
      const text = await res.text();
      const elapsedMs = performance.now() - started;
      assert.ok(res.status < 500, `5xx: ${res.status} ${text.slice(0, 200)}`);
      assert.equal(res.status, c.status, text.slice(0, 300));
      assert.ok(elapsedMs < 10_000, `took ${Math.round(elapsedMs)} ms`);
      let body: unknown = undefined;
      if (c.method !== "HEAD" && !(c.path === "/metrics" && res.status === 200)) {
        assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
        body = JSON.parse(text);
      }
      if (res.status >= 400) assert.equal(errorTypeOf(body), c.type, text.slice(0, 300));
      const after = totalsOf(await app.metrics());
      if (res.status === 200 && c.path !== "/metrics" && c.method === "POST") {
        const b = body as { cost_usd: number; input_tokens: number; output_tokens: number };
        assert.ok(Math.abs(after.cost - before.cost - b.cost_usd) <= 1e-9 * after.cost);
        assert.equal(after.input - before.input, b.input_tokens);
        assert.equal(after.output - before.output, b.output_tokens);
      } else {
        assert.deepEqual(after, before, "a refused request moved a cost or token total");
      }
      c.check?.(res, body);
      ran++;
    });
  }
  return ran;
}

Deno.test("hostile requests to /v1/inference get their documented status and error and never a 5xx", async (t) => {
  const cases = inferenceCases();
  assert.ok(cases.length >= 40, `only ${cases.length} cases`);
  assert.equal(await runCases(t, cases), cases.length);
});

Deno.test("hostile requests to /metrics, /health, /ready and unknown paths are refused as JSON", async (t) => {
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
