/** The OpenAI-shaped route served by the simulated model (no providers file), driven by the SDK. */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startGateway } from "../../helpers/fake_upstream.ts";
import { eventually, within } from "../../helpers/poll.ts";
import { total } from "../../helpers/prom.ts";
import { testApp } from "../../helpers/app.ts";
import { countChatTokens, tokenCounter } from "../../../src/tokens/count.ts";

const PROMPT = "Explain transformers in 3 sentences";
const MESSAGES = [{ role: "user" as const, content: PROMPT }];
const REPLY = `Response to: ${PROMPT}...`;

async function withSimulated(
  fn: (client: OpenAI, gateway: Awaited<ReturnType<typeof startGateway>>) => Promise<void>,
  env: Record<string, string> = {},
) {
  const gateway = await startGateway({ providers: [], unrouted_models: "simulated" }, env);
  const client = new OpenAI({
    apiKey: "k",
    baseURL: `${gateway.url}/v1`,
    maxRetries: 0,
    defaultHeaders: { "x-tenant-id": "team-search" },
  });
  try {
    await fn(client, gateway);
  } finally {
    await gateway.stop();
  }
}

Deno.test("the simulated model answers a chat completion with the chat format's prompt count", async () => {
  await withSimulated(async (client, gateway) => {
    const completion = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
    });
    assert.equal(completion.choices[0].message.content, REPLY);
    const counter = tokenCounter("o200k_base");
    // OpenAI's rule: 3 per message + role + content, 3 for the reply's priming.
    assert.equal(completion.usage?.prompt_tokens, countChatTokens(counter, MESSAGES));
    assert.equal(completion.usage?.prompt_tokens, 13);
    assert.equal(completion.usage?.completion_tokens, counter.count(REPLY));
    const m = await gateway.metrics();
    const labels = { model: "gpt-4o-mini", tenant: "team-search" };
    assert.equal(total(m, "inference_input_tokens_total", labels), 13);
    assert.equal(
      total(m, "inference_cost_usd_total", labels),
      (13 * 0.15 + counter.count(REPLY) * 0.6) / 1e6,
    );
  });
});

Deno.test("a simulated stream with include_usage ends with a usage chunk equal to what is recorded", async () => {
  await withSimulated(async (client, gateway) => {
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, REPLY);
    const m = await gateway.metrics();
    const labels = { model: "gpt-4o-mini", tenant: "team-search" };
    assert.equal(usage?.prompt_tokens, total(m, "inference_input_tokens_total", labels));
    assert.equal(usage?.completion_tokens, total(m, "inference_output_tokens_total", labels));
    assert.equal(total(m, "inference_time_to_first_token_seconds_count"), 1);
  });
});

Deno.test("a simulated stream without include_usage carries no usage", async () => {
  await withSimulated(async (client) => {
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.deepEqual(chunks.filter((c) => "usage" in c), []);
    assert.equal(chunks.at(-1)?.choices[0].finish_reason, "stop");
  });
});

Deno.test("a client leaving a paced simulated stream is billed the prompt and the streamed words", async () => {
  await withSimulated(async (client, gateway) => {
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      max_tokens: 200,
      stream: true,
    });
    let received = "";
    let pieces = 0;
    for await (const chunk of stream) {
      const content = chunk.choices[0]?.delta?.content ?? "";
      received += content;
      if (content && ++pieces === 3) break;
    }
    const labels = { model: "gpt-4o-mini", tenant: "team-search", status: "client_closed" };
    let m = await gateway.metrics();
    await eventually("the stream is recorded as client_closed", within(5_000), async () => {
      m = await gateway.metrics();
      return total(m, "inference_requests_total", labels) === 1;
    });
    const counter = tokenCounter("o200k_base");
    assert.equal(total(m, "inference_input_tokens_total"), countChatTokens(counter, MESSAGES));
    // The relay may have read at most one piece ahead of what the client consumed.
    const output = total(m, "inference_output_tokens_total");
    assert.ok(
      output >= counter.count(received) && output <= counter.count(received) + 2,
      `${output} output tokens for ${JSON.stringify(received)}`,
    );
  }, { SIM_MODE: "realistic", SIM_TTFT_MS: "0", SIM_TOKEN_MS: "25" });
});

Deno.test("chat completions is tenanted by x-tenant-id in demo mode, unknown ids billed as other", async () => {
  const t = testApp();
  for (const tenant of ["team-chat", "made-up"]) {
    const res = await t.post("/v1/chat/completions", { model: "gpt-4o", messages: MESSAGES }, {
      "x-tenant-id": tenant,
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }
  const m = await t.metrics();
  assert.equal(total(m, "inference_requests_total", { tenant: "team-chat", status: "ok" }), 1);
  assert.equal(total(m, "inference_requests_total", { tenant: "other", status: "ok" }), 1);
});

Deno.test("bad chat bodies get OpenAI-shaped 4xx errors naming the field, and move nothing", async () => {
  const t = testApp();
  const cases: [unknown, string, string | null][] = [
    [{ messages: MESSAGES }, "invalid_request", "model"],
    [{ model: "gpt-4o", messages: [] }, "invalid_request", "messages"],
    [{ model: "gpt-4o", messages: MESSAGES, max_tokens: 0 }, "invalid_request", "max_tokens"],
    [{ model: "gpt-4o", messages: MESSAGES, max_tokens: 100_000 }, "invalid_request", "max_tokens"],
    [{ model: "gpt-4o", messages: MESSAGES, n: 2 }, "invalid_request", "n"],
    [
      { model: "gpt-4o", messages: [{ role: "user", content: 5 }] },
      "invalid_request",
      "messages.0.content",
    ],
    ["{nope", "invalid_json", null],
  ];
  for (const [body, type, param] of cases) {
    const res = await t.post("/v1/chat/completions", body);
    assert.equal(res.status, 400, JSON.stringify(body));
    const error = (await res.json()).error;
    assert.equal(error.type, type, JSON.stringify(body));
    assert.equal(error.code, type);
    assert.equal(error.param, param, JSON.stringify(body));
    assert.equal(typeof error.message, "string");
  }
  const m = await t.metrics();
  assert.equal(total(m, "inference_cost_usd_total"), 0);
  assert.equal(total(m, "inference_requests_total", { status: "bad_request" }), cases.length);
});
