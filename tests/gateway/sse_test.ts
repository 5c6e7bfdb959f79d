import assert from "node:assert/strict";
import { readSseEvents, sseFrame, SseIdleTimeout } from "../../src/gateway/sse.ts";

function bodyOf(pieces: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces) controller.enqueue(encoder.encode(piece));
      controller.close();
    },
  });
}

async function collect(body: ReadableStream<Uint8Array>, idleMs = 1000) {
  const events = [];
  for await (const event of readSseEvents(body, idleMs)) events.push(event);
  return events;
}

Deno.test("events split anywhere across chunks are yielded whole, with their event names", async () => {
  const wire = 'event: message_start\ndata: {"a":1}\n\n: a comment\n\ndata: x\r\ndata: y\r\n\r\n';
  for (let cut = 1; cut < wire.length; cut++) {
    const events = await collect(bodyOf([wire.slice(0, cut), wire.slice(cut)]));
    assert.deepEqual(events, [
      { event: "message_start", data: '{"a":1}' },
      { event: undefined, data: "x\ny" },
    ], `cut at ${cut}`);
  }
});

Deno.test("an event cut off before its blank line is discarded at the end of the stream", async () => {
  assert.deepEqual(await collect(bodyOf(["data: whole\n\ndata: partial"])), [
    { event: undefined, data: "whole" },
  ]);
});

Deno.test("a stream that goes silent longer than the idle limit fails with SseIdleTimeout", async () => {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("data: first\n\n"));
    },
    cancel() {
      cancelled = true;
    },
  });
  const seen: string[] = [];
  await assert.rejects(async () => {
    for await (const event of readSseEvents(body, 30)) seen.push(event.data);
  }, SseIdleTimeout);
  assert.deepEqual(seen, ["first"]);
  assert.equal(cancelled, true, "the silent body is cancelled");
});

Deno.test("a frame puts each line of data on its own data line and ends with a blank line", () => {
  assert.equal(sseFrame("[DONE]"), "data: [DONE]\n\n");
  assert.equal(sseFrame("a\nb", "error"), "event: error\ndata: a\ndata: b\n\n");
});
