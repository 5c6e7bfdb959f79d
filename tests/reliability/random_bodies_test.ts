/**
 * Property tests: whatever body a client sends to /v1/inference, /v1/chat/completions or
 * /v1/messages, the answer is never a 5xx, and the cost and token totals move only when the request
 * succeeded — by exactly the usage its body reports.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { testApp } from "../helpers/app.ts";
import { total } from "../helpers/prom.ts";

/** Strings that break parsers: surrogate halves, nulls, special-token look-alikes, long runs. */
const nastyString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 64 }),
  fc.string({ unit: "grapheme", maxLength: 64 }),
  fc.constantFrom(
    "",
    "\u0000",
    "\ud800",
    "\udfff\ud800",
    "<|endoftext|>",
    "<|eot_id|>",
    "<|im_start|>",
    "__proto__",
    "constructor",
    "a".repeat(5000),
    " ".repeat(3000),
    "🙂".repeat(500),
    "x\r\nX-Injected: 1",
  ),
);

const modelName = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      "gpt-4o-mini",
      "gpt-4o",
      "claude-3.5-haiku",
      "llama-3.1-70b",
      "mixtral-8x22b",
      "claude-3-5-sonnet-20241022",
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom("GPT-4O", "gpt-4o-mini ", "unknown") },
  { weight: 1, arbitrary: nastyString },
);

/** Any JSON value, kept small. */
const anyJson = fc.jsonValue({ maxDepth: 3 });

/** Mostly a good value, sometimes any JSON at all. */
const field = <T>(good: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 6, arbitrary: good }, { weight: 1, arbitrary: anyJson });

/** A record whose keys are mostly all present, and otherwise each may be missing. */
function shaped<T extends Record<string, fc.Arbitrary<unknown>>>(model: T) {
  return fc.oneof(
    { weight: 3, arbitrary: fc.record(model) },
    { weight: 1, arbitrary: fc.record(model, { requiredKeys: [] }) },
  );
}

/** A body shaped like a request, each field good, hostile or of the wrong type. */
const requestShaped = shaped(
  {
    prompt: field(nastyString),
    model: field(modelName),
    tenant: field(fc.oneof(fc.constantFrom("team-search", "team-chat", "default"), nastyString)),
    max_tokens: field(
      fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: 1, max: 4096 }) },
        {
          weight: 1,
          arbitrary: fc.oneof(
            fc.integer({ min: -5, max: 20_000 }),
            fc.double(),
            fc.constantFrom(0, 16_384, 16_385, Number.MAX_SAFE_INTEGER),
          ),
        },
      ),
    ),
    extra: anyJson,
  },
).map((body) => JSON.stringify(body));

/** Raw bodies: random JSON text, random bytes, random text, truncated request JSON. */
const rawBody = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.uint8Array({ maxLength: 256 }),
  fc.string({ unit: "binary", maxLength: 256 }),
  requestShaped.chain((text) =>
    fc.nat({ max: Math.max(0, text.length - 1) }).map((n) => text.slice(0, n))
  ),
);

const anyBody = fc.oneof({ weight: 3, arbitrary: requestShaped }, {
  weight: 2,
  arbitrary: rawBody,
});

/** How many generated requests were served, per property, to show the success path is exercised. */
const served = new Map<string, number>();

function propertyFor(env: Record<string, string>) {
  const app = testApp({ LOG_LEVEL: "silent", ...env });
  const key = `/v1/inference ${JSON.stringify(env)}`;
  const totals = async () => {
    const m = await app.metrics();
    return {
      cost: total(m, "inference_cost_usd_total"),
      input: total(m, "inference_input_tokens_total"),
      output: total(m, "inference_output_tokens_total"),
    };
  };
  return fc.asyncProperty(anyBody, async (body) => {
    const before = await totals();
    const res = await app.app.request("/v1/inference", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    const text = await res.text();
    assert.ok(res.status < 500, `${res.status}: ${text.slice(0, 200)}`);
    const parsed = JSON.parse(text);
    const after = await totals();
    if (res.status === 200) {
      served.set(key, (served.get(key) ?? 0) + 1);
      const cost = parsed.cost_usd ?? 0;
      assert.ok(Math.abs(after.cost - before.cost - cost) <= 1e-9 * Math.max(after.cost, 1e-12));
      assert.equal(after.input - before.input, parsed.input_tokens);
      assert.equal(after.output - before.output, parsed.output_tokens);
    } else {
      assert.equal(typeof parsed.error?.type, "string");
      assert.deepEqual(after, before);
    }
  });
}

Deno.test("random bodies to /v1/inference never get a 5xx and move cost only on success", async () => {
  await fc.assert(propertyFor({}), { numRuns: 600 });
  assert.ok(
    (served.get("/v1/inference {}") ?? 0) >= 30,
    `served ${served.get("/v1/inference {}")}`,
  );
});

Deno.test("with UNPRICED_POLICY=allow random bodies still never get a 5xx and unpriced ones cost nothing", async () => {
  await fc.assert(propertyFor({ UNPRICED_POLICY: "allow" }), { numRuns: 400 });
  const key = '/v1/inference {"UNPRICED_POLICY":"allow"}';
  assert.ok((served.get(key) ?? 0) >= 30, `served ${served.get(key)}`);
});

/** A chat message, each field good, hostile or of the wrong type. */
const chatMessage = shaped(
  {
    role: field(fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom("user", "assistant") },
      { weight: 1, arbitrary: fc.constantFrom("system", "tool", "") },
    )),
    content: field(
      fc.oneof(
        nastyString,
        fc.array(fc.record({ type: fc.constantFrom("text", "image"), text: nastyString }), {
          maxLength: 3,
        }),
      ),
    ),
  },
);

/** A body shaped like a chat request for either API. */
const chatShaped = shaped(
  {
    model: field(modelName),
    messages: field(fc.array(chatMessage, { minLength: 1, maxLength: 3 })),
    system: field(nastyString),
    max_tokens: field(
      fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: 1, max: 4096 }) },
        { weight: 1, arbitrary: fc.oneof(fc.integer({ min: -5, max: 10_000_000 }), fc.double()) },
      ),
    ),
    n: field(fc.oneof({ weight: 6, arbitrary: fc.constant(1) }, fc.integer({ min: -1, max: 3 }))),
    stream: field(fc.boolean()),
    stream_options: field(fc.record({ include_usage: field(fc.boolean()) })),
    tools: field(fc.array(anyJson, { maxLength: 2 })),
  },
).map((body) => JSON.stringify(body));

/** The usage a JSON answer or an event stream of either chat API reports. */
function reportedUsage(text: string): { input: number; output: number } | undefined {
  let usage: { input: number; output: number } | undefined;
  const take = (event: Record<string, unknown>) => {
    const message = event.message as { usage?: Record<string, number> } | undefined;
    const u = (event.usage ?? message?.usage) as Record<string, number> | null | undefined;
    if (!u) return;
    const input = u.prompt_tokens ??
      (u.input_tokens === undefined ? undefined : u.input_tokens +
        (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0));
    usage = {
      input: input ?? usage?.input ?? 0,
      output: u.completion_tokens ?? u.output_tokens ?? usage?.output ?? 0,
    };
  };
  if (text.startsWith("{")) {
    take(JSON.parse(text));
  } else {
    for (const block of text.split("\n\n")) {
      const data = block.split("\n").find((l) => l.startsWith("data: "))?.slice(6);
      if (data && data !== "[DONE]") take(JSON.parse(data));
    }
  }
  return usage;
}

function chatPropertyFor(path: string) {
  const app = testApp({ LOG_LEVEL: "silent" });
  const totals = async () => {
    const m = await app.metrics();
    return {
      cost: total(m, "inference_cost_usd_total"),
      input: total(m, "inference_input_tokens_total"),
      output: total(m, "inference_output_tokens_total"),
    };
  };
  return fc.asyncProperty(
    fc.oneof({ weight: 3, arbitrary: chatShaped }, { weight: 1, arbitrary: rawBody }),
    async (body) => {
      const before = await totals();
      const res = await app.app.request(path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      const text = await res.text();
      assert.ok(res.status < 500, `${res.status}: ${text.slice(0, 200)}`);
      const after = await totals();
      if (res.status !== 200) {
        assert.equal(typeof JSON.parse(text).error?.type, "string");
        assert.deepEqual(after, before);
        return;
      }
      served.set(path, (served.get(path) ?? 0) + 1);
      assert.ok(after.input > before.input, "a served request bills its prompt");
      const usage = reportedUsage(text);
      if (usage) {
        assert.equal(after.input - before.input, usage.input);
        assert.equal(after.output - before.output, usage.output);
      }
    },
  );
}

Deno.test("random bodies to /v1/chat/completions never get a 5xx and move totals only on success", async () => {
  await fc.assert(chatPropertyFor("/v1/chat/completions"), { numRuns: 400 });
  assert.ok((served.get("/v1/chat/completions") ?? 0) >= 10, "few requests were served");
});

Deno.test("random bodies to /v1/messages never get a 5xx and move totals only on success", async () => {
  await fc.assert(chatPropertyFor("/v1/messages"), { numRuns: 400 });
  assert.ok((served.get("/v1/messages") ?? 0) >= 10, "few requests were served");
});
