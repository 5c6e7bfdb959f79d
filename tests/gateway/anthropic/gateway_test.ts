/**
 * The Anthropic-compatible gateway driven by the official `@anthropic-ai/sdk` against a fake
 * upstream whose usage is known (cache reads and writes included): /metrics must equal that usage
 * × the price, each part at its own rate (relative 1e-9).
 */
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import {
  ANTHROPIC_USAGE,
  fakeProviders,
  startFakeUpstream,
  startGateway,
  TEXT_CHUNKS,
  UPSTREAM_KEY,
} from "../../helpers/fake_upstream.ts";
import { eventually, within } from "../../helpers/poll.ts";
import { type Exposition, total } from "../../helpers/prom.ts";
import { countChatTokens, tokenCounter } from "../../../src/tokens/count.ts";

// claude-3.5-sonnet list prices, USD per 1M tokens.
const SONNET = { input: 3, cacheRead: 0.3, cacheWrite: 3.75, output: 15 };
const LABELS = { model: "claude-3.5-sonnet", tenant: "team-chat" };
const SYSTEM = "You are terse.";
const MESSAGES = [{ role: "user" as const, content: "Say hello." }];

function assertClose(actual: number, expected: number, what: string) {
  const relative = Math.abs(actual - expected) / Math.abs(expected);
  assert.ok(relative <= 1e-9, `${what}: ${actual} is not ${expected}`);
}

function inputTotal(): number {
  const u = ANTHROPIC_USAGE;
  return u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
}

function inputCost(): number {
  const u = ANTHROPIC_USAGE;
  return (u.input_tokens * SONNET.input + u.cache_read_input_tokens * SONNET.cacheRead +
    u.cache_creation_input_tokens * SONNET.cacheWrite) / 1e6;
}

function assertReportedUsage(m: Exposition) {
  assert.equal(total(m, "inference_input_tokens_total", LABELS), inputTotal());
  assert.equal(
    total(m, "inference_cached_input_tokens_total", LABELS),
    ANTHROPIC_USAGE.cache_read_input_tokens,
  );
  assert.equal(total(m, "inference_output_tokens_total", LABELS), ANTHROPIC_USAGE.output_tokens);
  assertClose(
    total(m, "inference_cost_usd_total", LABELS),
    inputCost() + ANTHROPIC_USAGE.output_tokens * SONNET.output / 1e6,
    "cost",
  );
}

async function withGateway(
  fn: (ctx: {
    client: Anthropic;
    fake: ReturnType<typeof startFakeUpstream>;
    gateway: Awaited<ReturnType<typeof startGateway>>;
  }) => Promise<void>,
  env: Record<string, string> = {},
) {
  const fake = startFakeUpstream();
  const gateway = await startGateway(fakeProviders(fake), env);
  const client = new Anthropic({
    apiKey: "client-key-of-team-chat",
    baseURL: gateway.url,
    maxRetries: 0,
    defaultHeaders: { "x-tenant-id": "team-chat" },
  });
  try {
    await fn({ client, fake, gateway });
  } finally {
    await gateway.stop();
    await fake.stop();
  }
}

function requestSpan(gateway: Awaited<ReturnType<typeof startGateway>>) {
  return gateway.exporter.getFinishedSpans().find((s) => s.name === "inference_request")!;
}

Deno.test("a plain message is priced from Anthropic's usage, cache reads and writes each at their rate", async () => {
  await withGateway(async ({ client, fake, gateway }) => {
    const message = await client.messages.create({
      model: "claude-3.5-sonnet",
      system: SYSTEM,
      max_tokens: 256,
      messages: MESSAGES,
    });
    assert.deepEqual(message.content, [{ type: "text", text: TEXT_CHUNKS.join("") }]);
    assert.equal(message.usage.cache_read_input_tokens, ANTHROPIC_USAGE.cache_read_input_tokens);
    assert.equal(fake.requests[0].body.model, "claude-3-5-sonnet-20241022");
    assertReportedUsage(await gateway.metrics());
    const span = requestSpan(gateway);
    assert.equal(span.attributes["inference.usage_source"], "provider");
    assert.equal(span.attributes["gen_ai.usage.cache_read.input_tokens"], 2000);
    assert.equal(span.attributes["gen_ai.usage.cache_write.input_tokens"], 500);
  });
});

Deno.test("a streamed message keeps Anthropic's event sequence and is priced from message_start and message_delta", async () => {
  await withGateway(async ({ client, gateway }) => {
    const stream = await client.messages.create({
      model: "claude-3.5-sonnet",
      max_tokens: 256,
      messages: MESSAGES,
      stream: true,
    });
    const types: string[] = [];
    let text = "";
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
        text += event.delta.text;
      }
    }
    assert.deepEqual(types, [
      "message_start",
      "content_block_start",
      ...TEXT_CHUNKS.map(() => "content_block_delta"),
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    assert.equal(text, TEXT_CHUNKS.join(""));
    const m = await gateway.metrics();
    assertReportedUsage(m);
    assert.equal(
      total(m, "inference_time_to_first_token_seconds_count", { model: "claude-3.5-sonnet" }),
      1,
    );
  });
});

Deno.test("a client that leaves a Messages stream is billed the provider's input and the text streamed so far", async () => {
  await withGateway(async ({ client, fake, gateway }) => {
    fake.behaviour = { mode: "stall", chunks: 2 };
    const stream = await client.messages.create({
      model: "claude-3.5-sonnet",
      max_tokens: 256,
      messages: MESSAGES,
      stream: true,
    });
    let received = "";
    for await (const event of stream) {
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
        received += event.delta.text;
        if (received === TEXT_CHUNKS.slice(0, 2).join("")) break;
      }
    }
    let m = await gateway.metrics();
    await eventually("the request is recorded as client_closed", within(5_000), async () => {
      m = await gateway.metrics();
      return total(m, "inference_requests_total", { ...LABELS, status: "client_closed" }) === 1;
    });
    const output = tokenCounter("cl100k_base", { exact: false }).count(received);
    // message_start already said what the input was: the provider's figures are billed.
    assert.equal(total(m, "inference_input_tokens_total", LABELS), inputTotal());
    assert.equal(total(m, "inference_output_tokens_total", LABELS), output);
    assertClose(
      total(m, "inference_cost_usd_total", LABELS),
      inputCost() + output * SONNET.output / 1e6,
      "cost",
    );
    assert.equal(requestSpan(gateway).attributes["inference.usage_source"], "estimated");
  });
});

Deno.test("an upstream that drops the connection mid-stream ends the Messages stream with an error event", async () => {
  await withGateway(async ({ client, fake, gateway }) => {
    fake.behaviour = { mode: "ok", chunks: 1 };
    const stream = await client.messages.create({
      model: "claude-3.5-haiku",
      max_tokens: 256,
      messages: MESSAGES,
      stream: true,
    });
    let received = "";
    await assert.rejects(async () => {
      for await (const event of stream) {
        if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
          received += event.delta.text;
        }
      }
    }, Anthropic.APIError);
    assert.equal(received, TEXT_CHUNKS[0]);
    const labels = { model: "claude-3.5-haiku", tenant: "team-chat" };
    const m = await gateway.metrics();
    assert.equal(total(m, "inference_requests_total", { ...labels, status: "upstream_error" }), 1);
    assert.equal(
      total(m, "inference_upstream_errors_total", {
        provider: "dropping-anthropic",
        kind: "mid_stream",
      }),
      1,
    );
    // message_start had arrived: its input figures are billed, with the streamed text counted here.
    assert.equal(total(m, "inference_input_tokens_total", labels), inputTotal());
    assert.equal(
      total(m, "inference_output_tokens_total", labels),
      tokenCounter("cl100k_base", { exact: false }).count(received),
    );
  });
});

Deno.test("an upstream 4xx keeps its status and Anthropic error type", async () => {
  await withGateway(async ({ client, fake }) => {
    fake.behaviour = {
      mode: "status",
      status: 400,
      errorBody: {
        type: "error",
        error: { type: "invalid_request_error", message: "messages: roles must alternate" },
      },
    };
    const error = await client.messages.create({
      model: "claude-3.5-sonnet",
      max_tokens: 10,
      messages: MESSAGES,
    }).catch((e) => e);
    assert.ok(error instanceof Anthropic.BadRequestError);
    assert.equal(error.type, "invalid_request_error");
    assert.match(error.message, /roles must alternate/);
  });
});

Deno.test("the provider's key goes upstream as x-api-key with the client's anthropic-version; the client's key never does", async () => {
  await withGateway(async ({ client, fake }) => {
    let sent: Headers | undefined;
    const spying = client.withOptions({
      fetch: (url: string | URL | Request, init?: RequestInit) => {
        sent = new Headers(init?.headers);
        return fetch(url, init);
      },
    });
    await spying.messages.create({
      model: "claude-3.5-sonnet",
      max_tokens: 10,
      messages: MESSAGES,
    });
    const headers = fake.requests[0].headers;
    assert.equal(headers["x-api-key"], UPSTREAM_KEY);
    assert.ok(sent?.get("anthropic-version"));
    assert.equal(headers["anthropic-version"], sent?.get("anthropic-version"));
    assert.equal(headers.authorization, undefined);
    assert.deepEqual(
      Object.values(headers).filter((v) => v.includes("client-key-of-team-chat")),
      [],
    );
  });
});

Deno.test("a model served over the OpenAI API is refused on /v1/messages with 400 protocol_mismatch", async () => {
  await withGateway(async ({ client, fake }) => {
    const error = await client.messages.create({
      model: "gpt-4o-mini",
      max_tokens: 10,
      messages: MESSAGES,
    }).catch((e) => e);
    assert.ok(error instanceof Anthropic.BadRequestError);
    assert.equal(error.type, "protocol_mismatch");
    assert.match(error.message, /\/v1\/chat\/completions/);
    assert.equal(fake.requests.length, 0);
  });
});

Deno.test("errors on /v1/messages use Anthropic's shape so the SDK raises its usual exceptions", async () => {
  await withGateway(async ({ client, gateway }) => {
    const unknown = await client.messages.create({
      model: "claude-2",
      max_tokens: 10,
      messages: MESSAGES,
    }).catch((e) => e);
    assert.ok(unknown instanceof Anthropic.BadRequestError);
    assert.equal(unknown.type, "unknown_model");
    const body = unknown.error as { error: Record<string, unknown> };
    assert.equal(body.error.param, undefined, "no OpenAI fields in Anthropic's shape");

    const res = await fetch(`${gateway.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-3.5-sonnet", messages: MESSAGES }),
    });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), {
      type: "error",
      error: {
        type: "invalid_request",
        message: "max_tokens: Invalid input: expected number, received undefined",
      },
    });
  });
});

Deno.test("the simulated model answers the Messages API, streamed and not, with local counts", async () => {
  const fake = startFakeUpstream();
  const gateway = await startGateway({ providers: [], unrouted_models: "simulated" });
  const client = new Anthropic({ apiKey: "k", baseURL: gateway.url, maxRetries: 0 });
  try {
    const message = await client.messages.create({
      model: "claude-3.5-haiku",
      system: SYSTEM,
      max_tokens: 100,
      messages: [{ role: "user", content: "Explain transformers in 3 sentences" }],
    });
    assert.equal(
      message.content[0].type === "text" && message.content[0].text,
      "Response to: You are terse.\nExplain transformers in 3 sentences...",
    );
    const counter = tokenCounter("cl100k_base", { exact: false });
    const prompt = countChatTokens(counter, [
      { role: "system", content: SYSTEM },
      { role: "user", content: "Explain transformers in 3 sentences" },
    ]);
    assert.equal(message.usage.input_tokens, prompt);

    const stream = client.messages.stream({
      model: "claude-3.5-haiku",
      max_tokens: 100,
      messages: [{ role: "user", content: "Explain transformers in 3 sentences" }],
    });
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, "end_turn");
    assert.equal(
      final.content[0].type === "text" && final.content[0].text,
      "Response to: Explain transformers in 3 sentences...",
    );
    const m = await gateway.metrics();
    assert.equal(
      total(m, "inference_requests_total", { model: "claude-3.5-haiku", status: "ok" }),
      2,
    );
    assert.equal(fake.requests.length, 0);
  } finally {
    await gateway.stop();
    await fake.stop();
  }
});

Deno.test("the Anthropic SDK lists models in Anthropic's shape", async () => {
  await withGateway(async ({ client }) => {
    const models = [];
    for await (const model of client.models.list()) models.push(model);
    const sonnet = models.find((m) => m.id === "claude-3.5-sonnet");
    assert.equal(sonnet?.type, "model");
    assert.equal(sonnet?.display_name, "claude-3.5-sonnet");
  });
});
