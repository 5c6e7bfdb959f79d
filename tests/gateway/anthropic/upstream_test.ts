import assert from "node:assert/strict";
import { anthropicUpstream, anthropicUsage } from "../../../src/gateway/anthropic/upstream.ts";
import { Secret } from "../../../src/providers/providers.ts";
import type { SseEvent } from "../../../src/gateway/sse.ts";

Deno.test("Anthropic cache reads and writes are added to input once, each kept apart for pricing", () => {
  assert.deepEqual(
    anthropicUsage({
      input_tokens: 50,
      cache_read_input_tokens: 2000,
      cache_creation_input_tokens: 500,
      output_tokens: 120,
    }),
    { inputTokens: 2550, cachedInputTokens: 2000, cacheWriteTokens: 500, outputTokens: 120 },
  );
  assert.deepEqual(
    anthropicUsage({ input_tokens: 3, output_tokens: 1, cache_read_input_tokens: null }),
    { inputTokens: 3, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 1 },
  );
  assert.equal(anthropicUsage({ input_tokens: 3 }), undefined);
});

Deno.test("Anthropic's cache_creation breakdown marks the 1-hour writes; without it every write is a 5-minute one", () => {
  assert.deepEqual(
    anthropicUsage({
      input_tokens: 50,
      cache_read_input_tokens: 2000,
      cache_creation_input_tokens: 500,
      cache_creation: { ephemeral_5m_input_tokens: 300, ephemeral_1h_input_tokens: 200 },
      output_tokens: 120,
    }),
    {
      inputTokens: 2550,
      cachedInputTokens: 2000,
      cacheWriteTokens: 500,
      cacheWrite1hTokens: 200,
      outputTokens: 120,
    },
  );
  assert.equal(
    anthropicUsage({
      input_tokens: 5,
      cache_creation_input_tokens: 40,
      cache_creation: { ephemeral_5m_input_tokens: 40, ephemeral_1h_input_tokens: 0 },
      output_tokens: 1,
    })?.cacheWrite1hTokens,
    undefined,
  );
  // A breakdown without the total still gives the writes.
  assert.deepEqual(
    anthropicUsage({
      input_tokens: 5,
      cache_creation: { ephemeral_5m_input_tokens: 10, ephemeral_1h_input_tokens: 30 },
      output_tokens: 1,
    }),
    {
      inputTokens: 45,
      cachedInputTokens: 0,
      cacheWriteTokens: 40,
      cacheWrite1hTokens: 30,
      outputTokens: 1,
    },
  );
});

function event(type: string, data: Record<string, unknown>): SseEvent {
  return { event: type, data: JSON.stringify({ type, ...data }) };
}

Deno.test("a Messages stream takes input from message_start and cumulative output from message_delta", () => {
  const reader = anthropicUpstream.streamReader(true);
  reader.step(event("message_start", {
    message: {
      model: "claude-3-5-sonnet-20241022",
      usage: { input_tokens: 50, cache_read_input_tokens: 2000, output_tokens: 1 },
    },
  }));
  assert.deepEqual(reader.inputUsage(), {
    inputTokens: 2050,
    cachedInputTokens: 2000,
    cacheWriteTokens: 0,
    outputTokens: 0,
  });
  assert.equal(reader.usage(), undefined, "no usage before message_delta");
  const delta = reader.step(event("content_block_delta", {
    index: 0,
    delta: { type: "text_delta", text: "Hi" },
  }));
  assert.equal(delta.text, "Hi");
  reader.step(event("message_delta", {
    delta: { stop_reason: "end_turn" },
    usage: { output_tokens: 120 },
  }));
  assert.deepEqual(reader.usage(), {
    inputTokens: 2050,
    cachedInputTokens: 2000,
    cacheWriteTokens: 0,
    outputTokens: 120,
  });
  assert.equal(reader.finished(), true);
  assert.equal(reader.model(), "claude-3-5-sonnet-20241022");
  assert.equal(reader.step(event("message_stop", {})).final, true);
});

Deno.test("final input figures in message_delta win over message_start's", () => {
  const reader = anthropicUpstream.streamReader(true);
  reader.step(event("message_start", { message: { usage: { input_tokens: 10 } } }));
  reader.step(event("message_delta", {
    delta: { stop_reason: "end_turn" },
    usage: { output_tokens: 5, input_tokens: 12, cache_creation_input_tokens: 30 },
  }));
  assert.deepEqual(reader.usage(), {
    inputTokens: 42,
    cachedInputTokens: 0,
    cacheWriteTokens: 30,
    outputTokens: 5,
  });
});

Deno.test("a Messages stream keeps message_start's cache_creation breakdown", () => {
  const reader = anthropicUpstream.streamReader(true);
  reader.step(event("message_start", {
    message: {
      usage: {
        input_tokens: 10,
        cache_creation_input_tokens: 3000,
        cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 2000 },
        output_tokens: 1,
      },
    },
  }));
  reader.step(event("message_delta", {
    delta: { stop_reason: "end_turn" },
    usage: { output_tokens: 7 },
  }));
  assert.deepEqual(reader.usage(), {
    inputTokens: 3010,
    cachedInputTokens: 0,
    cacheWriteTokens: 3000,
    cacheWrite1hTokens: 2000,
    outputTokens: 7,
  });
});

Deno.test("an error event inside a Messages stream is forwarded and reported", () => {
  const step = anthropicUpstream.streamReader(true).step(event("error", {
    error: { type: "overloaded_error", message: "Overloaded" },
  }));
  assert.equal(step.errorMessage, "Overloaded");
  assert.equal(step.frame, undefined, "forwarded as the provider sent it");
});

Deno.test("upstream headers carry the provider's key and the client's version, nothing else of the client's", () => {
  const provider = {
    name: "anthropic",
    protocol: "anthropic" as const,
    baseUrl: "https://api.anthropic.com",
    apiKey: new Secret("sk-ant-provider"),
    headers: {},
    models: new Map(),
  };
  const client = new Headers({
    "x-api-key": "client-key",
    authorization: "Bearer client-key",
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "prompt-caching-2024-07-31",
  });
  assert.deepEqual(anthropicUpstream.headers(provider, client), {
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "prompt-caching-2024-07-31",
    "x-api-key": "sk-ant-provider",
  });
});

Deno.test("a non-streamed message's text includes thinking and tool input", () => {
  const completion = anthropicUpstream.readCompletion(JSON.stringify({
    type: "message",
    model: "m",
    content: [
      { type: "thinking", thinking: "hmm " },
      { type: "text", text: "ok " },
      { type: "tool_use", id: "t", name: "f", input: { x: 1 } },
    ],
    usage: { input_tokens: 1, output_tokens: 2 },
  }));
  assert.equal(completion.text, 'hmm ok {"x":1}');
  assert.equal(completion.usage?.outputTokens, 2);
});
