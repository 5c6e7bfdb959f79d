/**
 * The usage sinks as a route sees them: every sink gets the one record, a sink's promise (a
 * durable write) is awaited before the client is answered, a failing sink is logged without
 * costing the request its answer, and prompt text reaches the span only through the record.
 */
import assert from "node:assert/strict";
import { testApp } from "../helpers/app.ts";
import { total } from "../helpers/prom.ts";
import { eventually, within } from "../helpers/poll.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import type { UsageSink } from "../../src/usage/sinks/sink.ts";

const EXAMPLE = { prompt: "Explain transformers in 3 sentences", tenant: "team-chat" };

/** A sink that holds each write open until the test lets it finish. */
function heldSink() {
  const records: UsageRecord[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  const sink: UsageSink = {
    name: "held",
    record(record) {
      records.push(record);
      return released;
    },
  };
  return { sink, records, release };
}

/** Whether `promise` has settled by the time the event loop has turned a few times. */
async function settledSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0));
  return settled;
}

Deno.test("a sink's promise is awaited before /v1/inference answers, and it gets the record the body shows", async () => {
  const held = heldSink();
  const t = testApp({}, { sinks: [held.sink] });
  const answer = Promise.resolve(t.post("/v1/inference", EXAMPLE));
  await eventually("the record reaches the sink", within(5_000), () => held.records.length === 1);
  assert.equal(await settledSoon(answer), false, "answered before the write finished");
  held.release();
  const res = await answer;
  assert.equal(res.status, 200);
  const body = await res.json();
  const [record] = held.records;
  assert.equal(record.costUsd, body.cost_usd);
  assert.equal(record.usage.outputTokens, body.output_tokens);
  assert.equal(record.tenant.id, "team-chat");
  assert.equal(record.content, undefined, "no prompt text without TRACE_CONTENT");
});

Deno.test("a stream's last frame waits for a sink's promise", async () => {
  const held = heldSink();
  const t = testApp({}, { sinks: [held.sink] });
  const res = await t.post("/v1/chat/completions", {
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "hi" }],
    stream: true,
  }, { "x-tenant-id": "team-chat" });
  assert.equal(res.status, 200);
  const text = res.text();
  await eventually("the record reaches the sink", within(5_000), () => held.records.length === 1);
  assert.equal(await settledSoon(text), false, "the stream ended before the write finished");
  held.release();
  assert.match(await text, /data: \[DONE\]\n\n$/);
  assert.equal(held.records[0].status, "ok");
});

Deno.test("a failing sink is logged by name and the request is still answered and counted", async () => {
  const failing: UsageSink = {
    name: "broken",
    record: () => Promise.reject(new Error("disk full")),
  };
  const t = testApp({}, { sinks: [failing] });
  const res = await t.post("/v1/inference", EXAMPLE);
  assert.equal(res.status, 200);
  const logged = t.logLines.map((l) => JSON.parse(l)).find((l) => l.msg === "usage sink failed");
  assert.equal(logged?.sink, "broken");
  assert.equal(logged?.error, "disk full");
  const m = await t.metrics();
  assert.equal(total(m, "inference_requests_total", { tenant: "team-chat", status: "ok" }), 1);
});

Deno.test("with TRACE_CONTENT=true a chat's prompt and reply reach the span through the record", async () => {
  const records: UsageRecord[] = [];
  const t = testApp({ TRACE_CONTENT: "true" }, {
    sinks: [{ name: "recorder", record: (r) => void records.push(r) }],
  });
  const messages = [{ role: "user", content: "hi there" }];
  const res = await t.post("/v1/chat/completions", { model: "gpt-4o-mini", messages });
  const reply = (await res.json()).choices[0].message.content;
  assert.deepEqual(records[0].content, { prompt: JSON.stringify(messages), completion: reply });
  const span = t.exporter.getFinishedSpans()[0];
  assert.equal(span.attributes["gen_ai.prompt"], JSON.stringify(messages));
  assert.equal(span.attributes["gen_ai.completion"], reply);
});
