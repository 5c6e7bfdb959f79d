import assert from "node:assert/strict";
import { liveEventFromRecord } from "../../src/live/event.ts";
import { eventToWire } from "../../src/live/wire.ts";
import { usageRecord } from "./helpers.ts";

const time = new Date("2026-03-04T05:06:07.890Z");

Deno.test("an event carries the record's ids, tokens by kind and exact cost", () => {
  const record = usageRecord({
    requestId: "req-1",
    tenant: "team-chat",
    model: "claude-3.5-sonnet",
    input: 1_000,
    cachedInput: 200,
    cacheWrite: 100,
    output: 50,
  });
  const event = liveEventFromRecord({ ...record, route: "/v1/messages" }, {
    time,
    traceId: "0af7651916cd43dd8448eb211c80319c",
  });
  assert.deepEqual(event, {
    time,
    requestId: "req-1",
    tenant: "team-chat",
    model: "claude-3.5-sonnet",
    route: "/v1/messages",
    tokens: { input: 1_000, cachedInput: 200, cacheWrite: 100, output: 50, reasoning: 0 },
    costPico: record.costPico,
    status: "ok",
    unpriced: false,
    usageSource: "provider",
    traceId: "0af7651916cd43dd8448eb211c80319c",
    errorType: undefined,
  });
  // 700 × 3 + 200 × 0.3 + 100 × 3.75 + 50 × 15 micro-dollars per token.
  assert.deepEqual(record.costPico, 3_285_000_000n);
});

Deno.test("the wire form gives the cost as an exact decimal number and as picodollars", () => {
  const record = usageRecord({
    requestId: "r",
    tenant: "team-chat",
    model: "gpt-4o-mini",
    input: 6,
    output: 10,
  });
  const wire = JSON.parse(JSON.stringify(eventToWire(liveEventFromRecord(record, { time }))));
  assert.deepEqual(wire.cost_usd, record.costUsd);
  assert.deepEqual(wire.cost_pico, "6900000");
  assert.deepEqual(
    JSON.stringify(eventToWire(liveEventFromRecord(record, { time }))).includes(
      '"cost_usd":0.0000069',
    ),
    true,
  );
  // One token of an embedding-priced model: no exponent in the number.
  const tiny = usageRecord({ requestId: "t", tenant: "team-chat", model: "gpt-4o-mini", input: 1 });
  const text = JSON.stringify(eventToWire(liveEventFromRecord(tiny, { time })));
  assert.deepEqual(JSON.parse(text).cost_pico, "150000");
  assert.deepEqual(/"cost_usd":0\.00000015[,}]/.test(text), true);
});

Deno.test("an all-zero trace id (an unsampled span) is no trace id", () => {
  const record = usageRecord({ requestId: "r", tenant: "team-chat", model: "gpt-4o", input: 1 });
  const event = liveEventFromRecord(record, { time, traceId: "0".repeat(32) });
  assert.deepEqual(event.traceId, undefined);
  assert.deepEqual(eventToWire(event, "http://jaeger:16686").trace_url, null);
});

Deno.test("a trace id becomes a Jaeger link when JAEGER_UI_URL is set", () => {
  const record = usageRecord({ requestId: "r", tenant: "team-chat", model: "gpt-4o", input: 1 });
  const event = liveEventFromRecord(record, { time, traceId: "4bf92f3577b34da6a3ce929d0e0e4736" });
  assert.deepEqual(
    eventToWire(event, "http://localhost:16686/").trace_url,
    "http://localhost:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736",
  );
  assert.deepEqual(eventToWire(event).trace_url, null);
});

Deno.test("a refused request has no cost and is not unpriced; an unpriced model's request is", () => {
  const refused = liveEventFromRecord(
    usageRecord({
      requestId: "a",
      tenant: "team-chat",
      model: "gpt-4o",
      input: 9,
      status: "budget_exceeded",
      errorType: "budget_exceeded",
    }),
    { time },
  );
  assert.deepEqual([refused.costPico, refused.unpriced, refused.tokens.input], [null, false, 0]);
  assert.deepEqual(refused.errorType, "budget_exceeded");
  const unpriced = liveEventFromRecord(
    usageRecord({
      requestId: "b",
      tenant: "team-chat",
      model: "my-own-model",
      input: 9,
      output: 3,
    }),
    { time },
  );
  assert.deepEqual([unpriced.model, unpriced.costPico, unpriced.unpriced], ["unknown", null, true]);
});

Deno.test("the route and the reasoning tokens come from the record", () => {
  const base = usageRecord({
    requestId: "r",
    tenant: "team-chat",
    model: "gpt-5",
    input: 10,
    output: 40,
  });
  const record = {
    ...base,
    route: "/v1/responses",
    usage: { ...base.usage, reasoningTokens: 25 },
  };
  const event = liveEventFromRecord(record, { time });
  assert.deepEqual([event.route, event.tokens.reasoning], ["/v1/responses", 25]);
  assert.deepEqual(liveEventFromRecord(base, { time }).tokens.reasoning, 0);
});

Deno.test("an event holds only counts, ids and outcome: no text field a prompt could hide in", () => {
  const record = {
    ...usageRecord({ requestId: "r", tenant: "team-chat", model: "gpt-4o", input: 1 }),
    prompt: "PROMPT-TEXT",
    apiKey: "sk-secret",
  };
  const wire = JSON.stringify(eventToWire(liveEventFromRecord(record, { time })));
  assert.deepEqual(wire.includes("PROMPT-TEXT") || wire.includes("sk-secret"), false);
  assert.deepEqual(Object.keys(JSON.parse(wire)).sort(), [
    "cost_pico",
    "cost_usd",
    "error_type",
    "model",
    "request_id",
    "route",
    "status",
    "tenant",
    "time",
    "tokens",
    "trace_id",
    "trace_url",
    "unpriced",
    "usage_source",
  ]);
});
