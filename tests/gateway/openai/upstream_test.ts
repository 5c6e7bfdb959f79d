import assert from "node:assert/strict";
import { openAiUpstream, openAiUsage } from "../../../src/gateway/openai/upstream.ts";
import { UpstreamError } from "../../../src/gateway/upstream.ts";

Deno.test("OpenAI cached tokens stay inside input and reasoning tokens inside output", () => {
  assert.deepEqual(
    openAiUsage({
      prompt_tokens: 1200,
      completion_tokens: 300,
      prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 100 },
    }),
    {
      inputTokens: 1200,
      cachedInputTokens: 1024,
      cacheWriteTokens: 0,
      outputTokens: 300,
      reasoningTokens: 100,
    },
  );
  assert.deepEqual(
    openAiUsage({ prompt_tokens: 7, completion_tokens: 2, prompt_tokens_details: null }),
    {
      inputTokens: 7,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 2,
      reasoningTokens: 0,
    },
  );
});

Deno.test("the service tier an OpenAI answer reports goes with its usage, body or stream", () => {
  const usage = { prompt_tokens: 10, completion_tokens: 5 };
  assert.equal(openAiUsage(usage, "flex")?.serviceTier, "flex");
  assert.equal(openAiUsage(usage, null)?.serviceTier, undefined);
  const completion = openAiUpstream.readCompletion(JSON.stringify({
    model: "gpt-5",
    service_tier: "priority",
    choices: [{ message: { content: "Hi" } }],
    usage,
  }));
  assert.equal(completion.usage?.serviceTier, "priority");
  // The tier comes in every chunk; the usage chunk is often the last and names it too.
  const reader = openAiUpstream.streamReader(true);
  reader.step({ data: JSON.stringify({ service_tier: "flex", choices: [{ delta: {} }] }) });
  reader.step({ data: JSON.stringify({ service_tier: null, choices: [], usage }) });
  assert.equal(reader.usage()?.serviceTier, "flex");
});

Deno.test("an invalid OpenAI usage object is no usage at all", () => {
  for (const raw of [null, undefined, {}, { prompt_tokens: -1, completion_tokens: 2 }, "x"]) {
    assert.equal(openAiUsage(raw), undefined, JSON.stringify(raw));
  }
});

Deno.test("the upstream body carries the upstream model and always asks for stream usage", () => {
  const body = JSON.parse(openAiUpstream.body(
    { model: "gpt-4o-mini", stream: true, stream_options: { other: 1 }, temperature: 0.2 },
    "gpt-4o-mini-2024-07-18",
  ));
  assert.deepEqual(body, {
    model: "gpt-4o-mini-2024-07-18",
    stream: true,
    stream_options: { other: 1, include_usage: true },
    temperature: 0.2,
  });
  const plain = JSON.parse(openAiUpstream.body({ model: "a", messages: [] }, "b"));
  assert.deepEqual(plain, { model: "b", messages: [] });
});

Deno.test("a stream reader strips usage the client did not ask for and keeps it for pricing", () => {
  const reader = openAiUpstream.streamReader(false);
  const content = reader.step({
    data: JSON.stringify({ choices: [{ delta: { content: "Hi" } }], usage: null }),
  });
  assert.deepEqual(JSON.parse(content.frame!.slice(6)), {
    choices: [{ delta: { content: "Hi" } }],
  });
  assert.equal(content.text, "Hi");
  const usage = reader.step({
    data: JSON.stringify({
      choices: [],
      usage: {
        prompt_tokens: 5,
        completion_tokens: 1,
        prompt_tokens_details: { cached_tokens: 2 },
      },
    }),
  });
  assert.equal(usage.frame, null);
  assert.deepEqual(reader.usage(), {
    inputTokens: 5,
    cachedInputTokens: 2,
    cacheWriteTokens: 0,
    outputTokens: 1,
    reasoningTokens: 0,
  });
  assert.deepEqual(reader.step({ data: "[DONE]" }), { text: "", final: true });
});

Deno.test("a stream reader passes chunks through untouched when the client asked for usage", () => {
  const reader = openAiUpstream.streamReader(true);
  const data = JSON.stringify({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 1 } });
  assert.equal(reader.step({ data }).frame, undefined, "forwarded as the provider sent it");
});

Deno.test("reasoning and tool-call arguments in a stream count as generated text", () => {
  const reader = openAiUpstream.streamReader(true);
  const step = reader.step({
    data: JSON.stringify({
      choices: [{
        delta: {
          reasoning_content: "think ",
          tool_calls: [{ function: { name: "f", arguments: '{"x":1}' } }],
        },
        finish_reason: "tool_calls",
      }],
    }),
  });
  assert.equal(step.text, 'think f{"x":1}');
  assert.equal(reader.finished(), true);
});

Deno.test("Groq's x_groq.usage is read as the stream's usage", () => {
  const reader = openAiUpstream.streamReader(true);
  reader.step({
    data: JSON.stringify({
      choices: [{ delta: {}, finish_reason: "stop" }],
      x_groq: { usage: { prompt_tokens: 9, completion_tokens: 4 } },
    }),
  });
  assert.equal(reader.usage()?.outputTokens, 4);
});

Deno.test("an unreadable stream chunk or completion is a protocol error", () => {
  assert.throws(
    () => openAiUpstream.streamReader(true).step({ data: "{not json" }),
    (e: Error) => e instanceof UpstreamError && e.kind === "protocol",
  );
  assert.throws(
    () => openAiUpstream.readCompletion('{"object":"chat.completion"}'),
    (e: Error) => e instanceof UpstreamError && e.kind === "protocol",
  );
});

Deno.test("an error chunk inside a stream is forwarded and reported", () => {
  const step = openAiUpstream.streamReader(true).step({
    data: JSON.stringify({ error: { message: "overloaded", type: "server_error" } }),
  });
  assert.equal(step.errorMessage, "overloaded");
  assert.notEqual(step.frame, null);
});
