/**
 * Property tests: whatever body a client sends, the answer is never a 5xx, and the cost and token
 * totals move only when the request succeeded, by exactly what its body reports.
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
  fc.constantFrom("gpt-4o-mini", "gpt-4o", "claude-3.5-haiku", "llama-3.1-70b", "mixtral-8x22b"),
  fc.constantFrom("claude-3-5-sonnet-20241022", "GPT-4O", "gpt-4o-mini ", "unknown"),
  nastyString,
);

/** Any JSON value, kept small. */
const anyJson = fc.jsonValue({ maxDepth: 3 });

const field = <T>(good: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 3, arbitrary: good }, { weight: 1, arbitrary: anyJson });

/** A body shaped like a request, each field good, hostile or of the wrong type. */
const requestShaped = fc.record(
  {
    prompt: field(nastyString),
    model: field(modelName),
    tenant: field(fc.oneof(fc.constantFrom("team-search", "team-chat", "default"), nastyString)),
    max_tokens: field(
      fc.oneof(
        fc.integer({ min: -5, max: 20_000 }),
        fc.double(),
        fc.constantFrom(0, 1, 512, 16_384, 16_385, Number.MAX_SAFE_INTEGER),
      ),
    ),
    extra: anyJson,
  },
  { requiredKeys: [] },
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

function propertyFor(env: Record<string, string>) {
  const app = testApp({ LOG_LEVEL: "silent", ...env });
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
  await fc.assert(propertyFor({}), { numRuns: 600, seed: 9 });
});

Deno.test("with UNPRICED_POLICY=allow random bodies still never get a 5xx and unpriced ones cost nothing", async () => {
  await fc.assert(propertyFor({ UNPRICED_POLICY: "allow" }), { numRuns: 400 });
});
