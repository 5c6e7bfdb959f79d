/**
 * Upstream faults through the gateway, against the real server: an upstream that refuses
 * connections, resets a stream midway, is too slow, answers garbage, or fails every request at
 * once. Each gets its documented error in the API's shape, its `inference_upstream_errors_total`
 * kind, and — when tokens were already streamed — its usage billed: the prompt plus the text the
 * client received. Nothing is retried and the server stays healthy.
 */
import assert from "node:assert/strict";
import { type RunningServer, startServer } from "../helpers/server.ts";
import { type Exposition, parseExposition, total } from "../helpers/prom.ts";
import { countChatTokens, tokenCounter } from "../../src/tokens/count.ts";
import { freePort } from "../reliability/redis_server.ts";
import {
  ANTHROPIC_USAGE,
  OPENAI_USAGE,
  startFakeUpstream,
  TEXT_CHUNKS,
} from "../helpers/fake_upstream.ts";

const UPSTREAM_TIMEOUT_MS = 1500;
const FLAKY_KEY = "sk-flaky-provider-key-0f3e5d7c9b1a";
const MESSAGES = [{ role: "user", content: "Explain transformers in 3 sentences" }];
// USD per 1M tokens (src/pricing/prices.json).
const MINI = { input: 0.15, cachedInput: 0.075, cacheWrite: 0.15, output: 0.6 };
const HAIKU = { input: 0.8, cachedInput: 0.08, cacheWrite: 1.0, output: 4.0 };
/** The input Anthropic's message_start reports, cache reads and writes included. */
const ANTHROPIC_INPUT = ANTHROPIC_USAGE.input_tokens + ANTHROPIC_USAGE.cache_read_input_tokens +
  ANTHROPIC_USAGE.cache_creation_input_tokens;

interface Answer {
  status: number;
  /** The JSON error body of a refused request, or the error frame that ended a stream. */
  error?: { type?: string; error?: { type?: string; message?: string } };
  /** Text the client received in a stream. */
  text: string;
  elapsedMs: number;
}

async function call(
  server: RunningServer,
  api: "openai" | "anthropic",
  model: string,
  stream: boolean,
): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(
    `${server.url}/v1/${api === "openai" ? "chat/completions" : "messages"}`,
    {
      method: "POST",
      headers: { "content-type": "application/json", "x-tenant-id": "team-chat" },
      body: JSON.stringify({ model, messages: MESSAGES, max_tokens: 100, stream }),
      signal: AbortSignal.timeout(20_000),
    },
  );
  const body = await res.text();
  const elapsedMs = performance.now() - started;
  if (res.status !== 200 || !stream) {
    return {
      status: res.status,
      error: res.status === 200 ? undefined : JSON.parse(body),
      text: "",
      elapsedMs,
    };
  }
  let text = "";
  let error: Answer["error"];
  for (const block of body.split("\n\n")) {
    const data = block.split("\n").find((l) => l.startsWith("data: "))?.slice(6);
    if (!data || data === "[DONE]") continue;
    const event = JSON.parse(data);
    if (event.error) error = event;
    text += event.choices?.[0]?.delta?.content ?? event.delta?.text ?? "";
  }
  return { status: res.status, error, text, elapsedMs };
}

async function scrape(server: RunningServer): Promise<Exposition> {
  return parseExposition(await (await fetch(`${server.url}/metrics`)).text());
}

/** What a request moved in /metrics. */
function delta(before: Exposition, after: Exposition, model: string) {
  const d = (name: string, labels: Record<string, string> = {}) =>
    total(after, name, labels) - total(before, name, labels);
  return {
    cost: d("inference_cost_usd_total", { model }),
    input: d("inference_input_tokens_total", { model }),
    output: d("inference_output_tokens_total", { model }),
    upstreamError: d("inference_requests_total", { model, status: "upstream_error" }),
    timeout: d("inference_requests_total", { model, status: "timeout" }),
    kinds: (provider: string, kind: string) =>
      d("inference_upstream_errors_total", { provider, kind }),
  };
}

/** Asserts a cost: uncached input, cache reads, cache writes and output each at their rate. */
function assertCost(
  actual: number,
  input: { uncached: number; cached?: number; written?: number },
  outputTokens: number,
  price: typeof MINI,
) {
  const inputTokens = input.uncached + (input.cached ?? 0) + (input.written ?? 0);
  const expected = (input.uncached * price.input + (input.cached ?? 0) * price.cachedInput +
    (input.written ?? 0) * price.cacheWrite + outputTokens * price.output) / 1e6;
  assert.ok(
    Math.abs(actual - expected) <= 1e-9 * expected,
    `billed ${actual}, expected ${expected} for ${inputTokens} in + ${outputTokens} out`,
  );
}

Deno.test("upstream faults through the gateway get their documented errors, counters and billing", async (t) => {
  const fake = startFakeUpstream();
  const dir = await Deno.makeTempDir();
  let server: RunningServer | undefined;
  try {
    const providers = `${dir}/providers.json`;
    await Deno.writeTextFile(
      providers,
      JSON.stringify({
        unrouted_models: "reject",
        providers: [
          {
            name: "flaky",
            protocol: "openai",
            base_url: fake.openAiBaseUrl,
            api_key_env: "FLAKY_KEY",
            models: ["gpt-4o-mini"],
          },
          {
            name: "flaky-anthropic",
            protocol: "anthropic",
            base_url: fake.anthropicBaseUrl,
            api_key_env: "FLAKY_KEY",
            models: ["claude-3.5-haiku"],
          },
          {
            name: "gone",
            protocol: "openai",
            base_url: `http://127.0.0.1:${freePort()}/v1`,
            models: ["gpt-4o"],
          },
        ],
      }),
    );
    server = await startServer({
      PROVIDERS_FILE: providers,
      FLAKY_KEY,
      UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS),
    });
    const s = server;
    const o200k = tokenCounter("o200k_base");
    const promptTokens = countChatTokens(o200k, MESSAGES);

    await t.step(
      "refused connection → 502 upstream_error, kind connect, nothing billed",
      async () => {
        const before = await scrape(s);
        const plain = await call(s, "openai", "gpt-4o", false);
        const streamed = await call(s, "openai", "gpt-4o", true);
        for (const a of [plain, streamed]) {
          assert.equal(a.status, 502);
          assert.equal(a.error?.error?.type, "upstream_error");
        }
        const d = delta(before, await scrape(s), "gpt-4o");
        assert.equal(d.kinds("gone", "connect"), 2);
        assert.equal(d.upstreamError, 2);
        assert.equal(d.cost, 0);
      },
    );

    await t.step(
      "a stream reset midway → error frame after the text, kind mid_stream, prompt and streamed text billed",
      async () => {
        fake.behaviour = { mode: "reset", chunks: 3 };
        const before = await scrape(s);
        const a = await call(s, "openai", "gpt-4o-mini", true);
        assert.equal(a.status, 200);
        assert.equal(a.text, TEXT_CHUNKS.slice(0, 3).join(""));
        assert.equal(a.error?.error?.type, "upstream_error");
        const d = delta(before, await scrape(s), "gpt-4o-mini");
        assert.equal(d.kinds("flaky", "mid_stream"), 1);
        assert.equal(d.upstreamError, 1);
        assert.equal(d.input, promptTokens);
        assert.equal(d.output, o200k.count(a.text));
        assertCost(d.cost, { uncached: promptTokens }, o200k.count(a.text), MINI);
      },
    );

    await t.step(
      "an Anthropic stream reset midway bills the provider's input and the streamed text",
      async () => {
        fake.behaviour = { mode: "reset", chunks: 4 };
        const before = await scrape(s);
        const a = await call(s, "anthropic", "claude-3.5-haiku", true);
        assert.equal(a.status, 200);
        assert.equal(a.text, TEXT_CHUNKS.slice(0, 4).join(""));
        assert.equal(a.error?.error?.type, "upstream_error");
        const d = delta(before, await scrape(s), "claude-3.5-haiku");
        assert.equal(d.kinds("flaky-anthropic", "mid_stream"), 1);
        const output = tokenCounter("cl100k_base", { exact: false }).count(a.text);
        assert.equal(d.input, ANTHROPIC_INPUT);
        assert.equal(d.output, output);
        assertCost(
          d.cost,
          {
            uncached: ANTHROPIC_USAGE.input_tokens,
            cached: ANTHROPIC_USAGE.cache_read_input_tokens,
            written: ANTHROPIC_USAGE.cache_creation_input_tokens,
          },
          output,
          HAIKU,
        );
      },
    );

    await t.step(
      "a slow upstream → 504 upstream_timeout after UPSTREAM_TIMEOUT_MS, kind timeout, nothing billed",
      async () => {
        fake.behaviour = { mode: "hang" };
        const before = await scrape(s);
        const plain = await call(s, "openai", "gpt-4o-mini", false);
        const streamed = await call(s, "openai", "gpt-4o-mini", true);
        for (const a of [plain, streamed]) {
          assert.equal(a.status, 504);
          assert.equal(a.error?.error?.type, "upstream_timeout");
          assert.ok(
            a.elapsedMs >= UPSTREAM_TIMEOUT_MS * 0.9 && a.elapsedMs < UPSTREAM_TIMEOUT_MS * 4,
          );
        }
        const d = delta(before, await scrape(s), "gpt-4o-mini");
        assert.equal(d.kinds("flaky", "timeout"), 2);
        assert.equal(d.timeout, 2);
        assert.equal(d.cost, 0);
      },
    );

    await t.step(
      "a stream that stalls midway is cut off after UPSTREAM_TIMEOUT_MS and its text billed",
      async () => {
        fake.behaviour = { mode: "stall", chunks: 2 };
        const before = await scrape(s);
        const a = await call(s, "openai", "gpt-4o-mini", true);
        assert.equal(a.status, 200);
        assert.equal(a.text, TEXT_CHUNKS.slice(0, 2).join(""));
        assert.equal(a.error?.error?.type, "upstream_error");
        assert.ok(
          a.elapsedMs >= UPSTREAM_TIMEOUT_MS * 0.9 && a.elapsedMs < UPSTREAM_TIMEOUT_MS * 4,
        );
        const d = delta(before, await scrape(s), "gpt-4o-mini");
        assert.equal(d.kinds("flaky", "mid_stream"), 1);
        assertCost(d.cost, { uncached: promptTokens }, o200k.count(a.text), MINI);
      },
    );

    await t.step(
      "garbage JSON → 502 upstream_error, kind protocol; garbage midway in a stream bills the text before it",
      async () => {
        fake.behaviour = { mode: "garbage", chunks: 2 };
        const before = await scrape(s);
        const plain = await call(s, "openai", "gpt-4o-mini", false);
        assert.equal(plain.status, 502);
        assert.equal(plain.error?.error?.type, "upstream_error");
        const streamed = await call(s, "openai", "gpt-4o-mini", true);
        assert.equal(streamed.status, 200);
        assert.equal(streamed.text, TEXT_CHUNKS.slice(0, 2).join(""));
        assert.equal(streamed.error?.error?.type, "upstream_error");
        const d = delta(before, await scrape(s), "gpt-4o-mini");
        assert.equal(d.kinds("flaky", "protocol"), 1);
        assert.equal(d.kinds("flaky", "mid_stream"), 1);
        assertCost(d.cost, { uncached: promptTokens }, o200k.count(streamed.text), MINI);
      },
    );

    await t.step(
      "a storm of 200 concurrent requests against a failing upstream: each 502 once, never retried, server healthy",
      async () => {
        fake.behaviour = { mode: "status", status: 503 };
        const before = await scrape(s);
        const receivedBefore = fake.requests.length;
        const started = performance.now();
        const answers = await Promise.all(
          Array.from({ length: 200 }, (_, i) => call(s, "openai", "gpt-4o-mini", i % 2 === 0)),
        );
        const stormMs = performance.now() - started;
        assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([502]));
        assert.ok(answers.every((a) => a.error?.error?.type === "upstream_error"));
        assert.equal(fake.requests.length - receivedBefore, 200, "no request was retried");
        const after = await scrape(s);
        const d = delta(before, after, "gpt-4o-mini");
        assert.equal(d.kinds("flaky", "status_5xx"), 200);
        assert.equal(d.upstreamError, 200);
        assert.equal(d.cost, 0);
        assert.equal(total(after, "inference_in_flight_requests"), 0);
        assert.ok(stormMs < 15_000, `the storm took ${stormMs} ms`);
        console.log(`5xx storm: 200 requests answered 502 in ${Math.round(stormMs)} ms`);
      },
    );

    await t.step(
      "when the upstream recovers, requests succeed and are billed the provider's usage",
      async () => {
        fake.behaviour = { mode: "ok" };
        const before = await scrape(s);
        const a = await call(s, "openai", "gpt-4o-mini", true);
        assert.equal(a.status, 200);
        assert.equal(a.text, TEXT_CHUNKS.join(""));
        assert.equal(a.error, undefined);
        const d = delta(before, await scrape(s), "gpt-4o-mini");
        const cached = OPENAI_USAGE.prompt_tokens_details.cached_tokens;
        assertCost(
          d.cost,
          { uncached: OPENAI_USAGE.prompt_tokens - cached, cached },
          OPENAI_USAGE.completion_tokens,
          MINI,
        );
        assert.equal((await fetch(`${s.url}/health`)).status, 200);
      },
    );

    // The provider's key never reached a client or a log.
    const everything = server.logs.join("\n");
    assert.equal(everything.includes(FLAKY_KEY), false);
  } finally {
    const code = server ? await server.stop() : 0;
    await fake.stop();
    await Deno.remove(dir, { recursive: true });
    assert.equal(code, 0);
  }
});
