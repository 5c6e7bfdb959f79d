import assert from "node:assert/strict";
import { parseSseEvent, sseFrame } from "../../src/gateway/sse.ts";

Deno.test("an event's lines are read as EventSource reads them", () => {
  assert.deepEqual(
    parseSseEvent('event: message_start\r\nid: 7\r\n: note\r\ndata: {"a":1}\r\n\r\n'),
    { event: "message_start", data: '{"a":1}' },
  );
  assert.deepEqual(parseSseEvent("data:x\ndata:  y\ndata\n\n"), {
    event: undefined,
    data: "x\n y\n",
  });
  assert.deepEqual(parseSseEvent("event: a\nevent:\ndata: z\r\r"), { event: undefined, data: "z" });
});

Deno.test("an event without data lines is no event", () => {
  assert.equal(parseSseEvent(": keep-alive\n\n"), undefined);
  assert.equal(parseSseEvent("event: ping\nretry: 10\n\n"), undefined);
});

Deno.test("a frame puts each line of data on its own data line and ends with a blank line", () => {
  assert.equal(sseFrame("[DONE]"), "data: [DONE]\n\n");
  assert.equal(sseFrame("a\nb", "error"), "event: error\ndata: a\ndata: b\n\n");
});
