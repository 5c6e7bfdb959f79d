import assert from "node:assert/strict";
import {
  responsesUpstream,
  responsesUsage,
} from "../../../src/gateway/openai/responses_upstream.ts";
import { UpstreamError } from "../../../src/gateway/upstream.ts";
import type { SseEvent } from "../../../src/gateway/sse.ts";

function event(type: string, data: Record<string, unknown> = {}): SseEvent {
  return { event: type, data: JSON.stringify({ type, sequence_number: 0, ...data }) };
}

const USAGE = {
  input_tokens: 10000,
  input_tokens_details: { cached_tokens: 8000 },
  output_tokens: 3000,
  output_tokens_details: { reasoning_tokens: 2500 },
  total_tokens: 13000,
};

Deno.test("a Responses usage keeps cached tokens inside input and reasoning inside output, with the reported tier", () => {
  assert.deepEqual(responsesUsage(USAGE, "flex"), {
    inputTokens: 10000,
    cachedInputTokens: 8000,
    cacheWriteTokens: 0,
    outputTokens: 3000,
    reasoningTokens: 2500,
    serviceTier: "flex",
  });
  assert.equal(responsesUsage(USAGE, "default")?.serviceTier, "default");
  assert.equal(responsesUsage(USAGE, null)?.serviceTier, undefined);
  for (const raw of [null, {}, { input_tokens: 1 }, { input_tokens: -1, output_tokens: 1 }]) {
    assert.equal(responsesUsage(raw), undefined, JSON.stringify(raw));
  }
});

Deno.test("the Responses upstream body replaces only the model and never adds stream_options", () => {
  const raw = { model: "gpt-5", input: "hi", stream: true, store: false };
  assert.deepEqual(JSON.parse(responsesUpstream.body(raw, "gpt-5-2025-08-07")), {
    ...raw,
    model: "gpt-5-2025-08-07",
  });
});

Deno.test("a Responses stream counts generated deltas and takes usage and tier from response.completed", () => {
  const reader = responsesUpstream.streamReader(false);
  reader.step(event("response.created", { response: { model: "gpt-5-2025-08-07" } }));
  assert.equal(reader.step(event("response.output_text.delta", { delta: "Hi" })).text, "Hi");
  assert.equal(
    reader.step(event("response.reasoning_summary_text.delta", { delta: "hm" })).text,
    "hm",
  );
  assert.equal(
    reader.step(event("response.function_call_arguments.delta", { delta: '{"a"' })).text,
    '{"a"',
  );
  assert.equal(reader.step(event("response.audio.delta", { delta: "AAAA" })).text, "");
  assert.equal(reader.usage(), undefined);
  assert.equal(reader.finished(), false);
  const done = reader.step(event("response.completed", {
    response: { model: "gpt-5-2025-08-07", usage: USAGE, service_tier: "priority" },
  }));
  assert.equal(done.final, true);
  assert.equal(done.errorMessage, undefined);
  assert.equal(done.frame, undefined, "forwarded as the provider sent it");
  assert.equal(reader.finished(), true);
  assert.equal(reader.usage()?.serviceTier, "priority");
  assert.equal(reader.usage()?.reasoningTokens, 2500);
  assert.equal(reader.model(), "gpt-5-2025-08-07");
});

Deno.test("response.incomplete ends a stream normally; response.failed and error events end it as failures", () => {
  const cut = responsesUpstream.streamReader(false);
  const incomplete = cut.step(event("response.incomplete", { response: { usage: USAGE } }));
  assert.equal(incomplete.final, true);
  assert.equal(incomplete.errorMessage, undefined);
  assert.equal(cut.usage()?.outputTokens, 3000);

  const failing = responsesUpstream.streamReader(false);
  const failed = failing.step(event("response.failed", {
    response: { error: { code: "server_error", message: "The model failed" }, usage: USAGE },
  }));
  assert.equal(failed.final, true);
  assert.equal(failed.errorMessage, "The model failed");
  assert.equal(failing.finished(), false);
  assert.equal(failing.usage()?.inputTokens, 10000, "a failed response's usage is still billed");

  const error = responsesUpstream.streamReader(false).step(
    event("error", { code: "rate_limit_exceeded", message: "Slow down" }),
  );
  assert.equal(error.errorMessage, "Slow down");
  assert.equal(error.final, undefined);
});

Deno.test("a non-streamed Response gives its usage, tier and the text of every output item", () => {
  const completion = responsesUpstream.readCompletion(JSON.stringify({
    object: "response",
    model: "gpt-5-2025-08-07",
    service_tier: "flex",
    output: [
      { type: "reasoning", summary: [{ type: "summary_text", text: "think " }] },
      { type: "function_call", name: "lookup", arguments: '{"q":1} ' },
      {
        type: "message",
        content: [{ type: "output_text", text: "done" }, { type: "refusal", refusal: "!" }],
      },
      { type: "web_search_call", id: "ws_1" },
    ],
    usage: USAGE,
  }));
  assert.equal(completion.text, 'think lookup{"q":1} done!');
  assert.equal(completion.usage?.serviceTier, "flex");
  assert.equal(completion.model, "gpt-5-2025-08-07");
});

Deno.test("an unreadable Responses answer or event is a protocol error", () => {
  assert.throws(() => responsesUpstream.readCompletion("{nope"), UpstreamError);
  assert.throws(() => responsesUpstream.readCompletion('{"output": 5}'), UpstreamError);
  const reader = responsesUpstream.streamReader(false);
  assert.throws(() => reader.step({ data: "{broken" }), UpstreamError);
  assert.throws(() => reader.step({ data: '{"no_type": true}' }), UpstreamError);
});
