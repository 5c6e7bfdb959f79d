/**
 * The relay's reading of upstream streams (bytes scanned, most events forwarded untouched) against
 * the reference it replaced: every event parsed by eventsource-parser and read in full by the
 * protocol's reader. For random streams of all three protocols, cut anywhere, the client must
 * receive the same events, and the gateway must see the same usage, stop, model, text and
 * failures.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { openAiUpstream } from "../../src/gateway/openai/upstream.ts";
import { responsesUpstream } from "../../src/gateway/openai/responses_upstream.ts";
import { anthropicUpstream } from "../../src/gateway/anthropic/upstream.ts";
import { UpstreamPieces } from "../../src/gateway/upstream_events.ts";
import { UpstreamError, type UpstreamProtocol } from "../../src/gateway/upstream.ts";
import { sseFrame } from "../../src/gateway/sse.ts";
import { eventually, within } from "../helpers/poll.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The values an arbitrary draws. */
type Drawn<A> = A extends fc.Arbitrary<infer T> ? T : never;

function parseAll(text: string): EventSourceMessage[] {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e) });
  parser.feed(text);
  return events;
}

/** What the client and the cost path see of one stream. */
interface Outcome {
  /** Client events: name and data, JSON data parsed. */
  events: { event?: string; data: unknown }[];
  text: string;
  usage: unknown;
  finished: boolean;
  model: string | undefined;
  final: boolean;
  /** The provider's last error reported in the stream (what the relay keeps). */
  lastError?: string;
  failure?: string;
}

const readData = (data: string) => {
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
};

/** The reference: each event parsed, then read in full. */
function byReading(protocol: UpstreamProtocol, asked: boolean, wire: string): Outcome {
  const reader = protocol.streamReader(asked);
  const out: Outcome["events"] = [];
  let text = "";
  let final = false;
  let failure: string | undefined;
  let lastError: string | undefined;
  for (const event of parseAll(wire)) {
    let step;
    try {
      step = reader.step({ event: event.event, data: event.data });
    } catch (error) {
      failure = (error as Error).message;
      break;
    }
    text += step.text;
    if (step.errorMessage !== undefined) lastError = step.errorMessage;
    const frame = step.frame === undefined ? sseFrame(event.data, event.event) : step.frame;
    if (frame !== null) {
      for (const e of parseAll(frame)) out.push({ event: e.event, data: readData(e.data) });
    }
    if (step.final) {
      final = true;
      break;
    }
  }
  return {
    events: out,
    text,
    usage: reader.usage(),
    finished: reader.finished(),
    model: reader.model(),
    final,
    lastError,
    failure,
  };
}

function bodyOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]);
      else {
        controller.close();
        // A byte stream ends a waiting read only once the request is answered.
        controller.byobRequest?.respond(0);
      }
    },
  });
}

function cut(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const bounds = [...new Set([0, ...cuts.filter((c) => c < bytes.length), bytes.length])]
    .sort((a, b) => a - b);
  return bounds.slice(1).map((end, i) => bytes.slice(bounds[i], end));
}

/** The relay's way: bytes scanned, pieces forwarded. */
async function byScanning(
  protocol: UpstreamProtocol,
  asked: boolean,
  chunks: Uint8Array[],
): Promise<Outcome> {
  const reader = protocol.streamReader(asked);
  const pieces = new UpstreamPieces(
    bodyOf(chunks),
    reader,
    60_000,
    () => new UpstreamError("timeout", "idle"),
  );
  let wire = "";
  let final = false;
  let failure: string | undefined;
  let lastError: string | undefined;
  while (true) {
    let bytes;
    try {
      bytes = await pieces.next();
    } catch (error) {
      failure = (error as Error).message;
      break;
    }
    if (bytes === null) break;
    wire += decoder.decode(bytes);
    if (pieces.errorMessage !== undefined) lastError = pieces.errorMessage;
    if (pieces.final) {
      final = true;
      pieces.stop();
      break;
    }
  }
  return {
    events: parseAll(wire).map((e) => ({ event: e.event, data: readData(e.data) })),
    text: pieces.text(),
    usage: reader.usage(),
    finished: reader.finished(),
    model: reader.model(),
    final,
    lastError,
    failure,
  };
}

const text = fc.string({ unit: "grapheme", maxLength: 6 });
const lineEnds = fc.constantFrom("\n", "\r\n");
const cuts = fc.array(fc.nat({ max: 3000 }), { maxLength: 12 });
/** Extras any stream may carry: a heartbeat comment, a broken event, an error event. */
const extra = fc.constantFrom("none", "none", "none", "comment", "garbage", "error");

function serialize(
  events: { event?: string; data: string }[],
  end: string,
): string {
  return events.map((e) =>
    (e.event === undefined ? "" : `event: ${e.event}${end}`) +
    e.data.split("\n").map((line) => `data: ${line}${end}`).join("") + end
  ).join("");
}

function withExtra(
  events: { event?: string; data: string }[],
  kind: string,
  at: number,
  error: { event?: string; data: string },
) {
  const i = at % (events.length + 1);
  const inserted = kind === "comment"
    ? [{ data: "\u0000comment" }]
    : kind === "garbage"
    ? [{ data: "{not json" }]
    : kind === "error"
    ? [error]
    : [];
  return [...events.slice(0, i), ...inserted, ...events.slice(i)];
}

function render(events: { event?: string; data: string }[], end: string): string {
  // A comment is written as one (the marker keeps it apart from data).
  return events.map((e) =>
    e.data === "\u0000comment" ? `: keep-alive${end}${end}` : serialize([e], end)
  ).join("");
}

const openAiStream = fc.record({
  model: fc.constantFrom("gpt-4o-mini-2024-07-18", 'odd "model"', undefined),
  tiers: fc.array(fc.constantFrom(undefined, null, "default", "flex"), { minLength: 8 }),
  usageNulls: fc.boolean(),
  deltas: fc.array(
    fc.record({
      reasoning_content: fc.option(text, { nil: undefined }),
      content: fc.option(text, { nil: undefined }),
      tool: fc.option(fc.record({ name: text, arguments: text }), { nil: undefined }),
    }),
    { maxLength: 6 },
  ),
  finish: fc.constantFrom("stop", "length", null),
  usage: fc.constantFrom("chunk", "groq", "none"),
  done: fc.boolean(),
  spaced: fc.boolean(),
  extra,
  extraAt: fc.nat(),
});

function openAiWire(s: Drawn<typeof openAiStream>, end: string): string {
  let n = 0;
  const chunk = (choices: unknown[], more: Record<string, unknown> = {}) => {
    const tier = s.tiers[n++ % s.tiers.length];
    const body: Record<string, unknown> = {
      id: "chatcmpl-1",
      object: "chat.completion.chunk",
      ...(s.model === undefined ? {} : { model: s.model }),
      ...(tier === undefined ? {} : { service_tier: tier }),
      choices,
      ...more,
    };
    if (s.usageNulls && !("usage" in body)) body.usage = null;
    return { data: s.spaced ? JSON.stringify(body, null, 1) : JSON.stringify(body) };
  };
  const usage = {
    prompt_tokens: 12,
    completion_tokens: 5,
    prompt_tokens_details: { cached_tokens: 2 },
  };
  const events = [
    chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]),
    ...s.deltas.map((d) => {
      const delta: Record<string, unknown> = {};
      if (d.reasoning_content !== undefined) delta.reasoning_content = d.reasoning_content;
      if (d.content !== undefined) delta.content = d.content;
      if (d.tool) delta.tool_calls = [{ index: 0, function: d.tool }];
      return chunk([{ index: 0, delta, logprobs: null, finish_reason: null }]);
    }),
    chunk(
      [{ index: 0, delta: {}, finish_reason: s.finish }],
      s.usage === "groq" ? { x_groq: { usage } } : {},
    ),
    ...(s.usage === "chunk" ? [chunk([], { usage })] : []),
    ...(s.done ? [{ data: "[DONE]" }] : []),
  ];
  const error = {
    data: JSON.stringify({ error: { message: "overloaded", type: "server_error" } }),
  };
  return render(withExtra(events, s.extra, s.extraAt, error), end);
}

async function assertSame(
  protocol: UpstreamProtocol,
  asked: boolean,
  wire: string,
  cutsAt: readonly number[],
) {
  const bytes = encoder.encode(wire);
  const want = byReading(protocol, asked, wire);
  const got = await byScanning(protocol, asked, cut(bytes, cutsAt));
  // The scan fails only where a full read fails; an error's message may differ in wording.
  assert.equal(got.failure !== undefined, want.failure !== undefined, wire);
  assert.deepEqual({ ...got, failure: undefined }, { ...want, failure: undefined }, wire);
}

Deno.test("OpenAI chat streams: the client gets the events a full read would send, the cost path the same usage and text", async () => {
  await fc.assert(
    fc.asyncProperty(openAiStream, fc.boolean(), lineEnds, cuts, async (s, asked, end, at) => {
      await assertSame(openAiUpstream, asked, openAiWire(s, end), at);
    }),
    { numRuns: 300 },
  );
});

const responsesStream = fc.record({
  deltas: fc.array(
    fc.record({
      type: fc.constantFrom(
        "response.output_text.delta",
        "response.reasoning_summary_text.delta",
        "response.function_call_arguments.delta",
        "response.audio.delta",
        "response.output_text.done",
      ),
      delta: text,
    }),
    { maxLength: 6 },
  ),
  named: fc.boolean(),
  end: fc.constantFrom("response.completed", "response.incomplete", "response.failed", "none"),
  tier: fc.constantFrom("default", "flex", null),
  extra,
  extraAt: fc.nat(),
});

function responsesWire(s: Drawn<typeof responsesStream>, end: string): string {
  let seq = 0;
  const event = (type: string, data: Record<string, unknown>) => ({
    event: s.named ? type : undefined,
    data: JSON.stringify({ type, sequence_number: seq++, ...data }),
  });
  const response = { id: "resp_1", object: "response", model: "gpt-5-2025-08-07" };
  const usage = {
    input_tokens: 10,
    input_tokens_details: { cached_tokens: 4 },
    output_tokens: 7,
    output_tokens_details: { reasoning_tokens: 3 },
  };
  const events = [
    event("response.created", { response: { ...response, status: "in_progress" } }),
    event("response.in_progress", { response }),
    ...s.deltas.map((d) => event(d.type, { item_id: "msg_1", delta: d.delta })),
    ...(s.end === "none" ? [] : [
      event(s.end, {
        response: {
          ...response,
          service_tier: s.tier,
          usage,
          ...(s.end === "response.failed" ? { error: { message: "The model failed" } } : {}),
        },
      }),
    ]),
  ];
  const error = event("error", { code: "rate_limit_exceeded", message: "Slow down" });
  return render(withExtra(events, s.extra, s.extraAt, error), end);
}

Deno.test("Responses streams: the client gets the events a full read would send, the cost path the same usage and text", async () => {
  await fc.assert(
    fc.asyncProperty(responsesStream, lineEnds, cuts, async (s, end, at) => {
      await assertSame(responsesUpstream, false, responsesWire(s, end), at);
    }),
    { numRuns: 300 },
  );
});

const messagesStream = fc.record({
  deltas: fc.array(
    fc.oneof(
      text.map((t) => ({ type: "text_delta", text: t })),
      text.map((t) => ({ type: "thinking_delta", thinking: t })),
      text.map((t) => ({ type: "input_json_delta", partial_json: t })),
      fc.constant({ type: "signature_delta", signature: "c2ln" }),
    ),
    { maxLength: 6 },
  ),
  named: fc.constantFrom(true, true, false),
  stop: fc.constantFrom("end_turn", null),
  ends: fc.boolean(),
  extra,
  extraAt: fc.nat(),
});

function messagesWire(s: Drawn<typeof messagesStream>, end: string): string {
  const event = (type: string, data: Record<string, unknown>) => ({
    event: s.named ? type : undefined,
    data: JSON.stringify({ type, ...data }),
  });
  const events = [
    event("message_start", {
      message: {
        id: "msg_1",
        type: "message",
        role: "assistant",
        model: "claude-3-5-sonnet-20241022",
        content: [],
        usage: { input_tokens: 50, cache_read_input_tokens: 20, output_tokens: 1 },
      },
    }),
    event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
    event("ping", {}),
    ...s.deltas.map((delta) => event("content_block_delta", { index: 0, delta })),
    event("content_block_stop", { index: 0 }),
    event("message_delta", { delta: { stop_reason: s.stop }, usage: { output_tokens: 9 } }),
    ...(s.ends ? [event("message_stop", {})] : []),
  ];
  const error = event("error", { error: { type: "overloaded_error", message: "Overloaded" } });
  return render(withExtra(events, s.extra, s.extraAt, error), end);
}

Deno.test("Anthropic Messages streams: the client gets the events a full read would send, the cost path the same usage and text", async () => {
  await fc.assert(
    fc.asyncProperty(messagesStream, lineEnds, cuts, async (s, end, at) => {
      await assertSame(anthropicUpstream, true, messagesWire(s, end), at);
    }),
    { numRuns: 300 },
  );
});

Deno.test("events the scan forwards reach the client byte for byte", async () => {
  const wire = 'data: {"id":"a","model":"m","choices":[{"delta":{"content":"Hi"}}]}\r\n\r\n' +
    ": keep-alive\r\n\r\n" +
    'data: {"id":"a","model":"m","choices":[{"delta":{"content":" there"}}]}\r\n\r\n' +
    "data: [DONE]\r\n\r\n";
  const bytes = encoder.encode(wire);
  for (let at = 1; at < bytes.length; at++) {
    const pieces = new UpstreamPieces(
      bodyOf(cut(bytes, [at])),
      openAiUpstream.streamReader(true),
      60_000,
      () => new UpstreamError("timeout", "idle"),
    );
    let out = "";
    let piece;
    while ((piece = await pieces.next()) !== null) {
      out += decoder.decode(piece);
      if (pieces.final) break;
    }
    // Cut between the CR and LF of the end marker's blank line, the CR ends it already.
    assert.equal(out, at === bytes.length - 1 ? wire.slice(0, -1) : wire, `cut at ${at}`);
    assert.equal(pieces.text(), "Hi there");
  }
});

Deno.test("usage the client did not ask for is cut out of each chunk, the rest of it untouched", async () => {
  const wire = 'data: {"model":"m","choices":[{"delta":{"content":"Hi"}}],"usage":null}\n\n' +
    'data: {"usage": null, "model":"m","choices":[{"delta":{}}]}\n\n' +
    'data: {"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}\n\n' +
    "data: [DONE]\n\n";
  const pieces = new UpstreamPieces(
    bodyOf([encoder.encode(wire)]),
    openAiUpstream.streamReader(false),
    60_000,
    () => new UpstreamError("timeout", "idle"),
  );
  const out = decoder.decode((await pieces.next())!);
  assert.equal(pieces.final, true);
  assert.equal(
    out,
    'data: {"model":"m","choices":[{"delta":{"content":"Hi"}}]}\n\n' +
      'data: {"model":"m","choices":[{"delta":{}}]}\n\n' +
      "data: [DONE]\n\n",
  );
});

Deno.test("comments before the first event wait for it; after it they go out alone", async () => {
  let controller!: ReadableByteStreamController;
  const body = new ReadableStream({
    type: "bytes",
    start: (c: ReadableByteStreamController) => {
      controller = c;
    },
  });
  const pieces = new UpstreamPieces(
    body,
    anthropicUpstream.streamReader(true),
    60_000,
    () => new UpstreamError("timeout", "idle"),
  );
  controller.enqueue(encoder.encode(": hello\n\n"));
  const first = pieces.next();
  controller.enqueue(encoder.encode('event: ping\ndata: {"type":"ping"}\n\n'));
  assert.equal(decoder.decode((await first)!), ': hello\n\nevent: ping\ndata: {"type":"ping"}\n\n');
  controller.enqueue(encoder.encode(": still here\n\n"));
  assert.equal(decoder.decode((await pieces.next())!), ": still here\n\n");
  const end = pieces.next();
  controller.close();
  controller.byobRequest?.respond(0);
  assert.equal(await end, null);
});

Deno.test("a broken event after whole ones: those go out first, then the failure", async () => {
  const wire = 'data: {"model":"m","choices":[{"delta":{"content":"a"}}]}\n\ndata: {oops\n\n';
  const pieces = new UpstreamPieces(
    bodyOf([encoder.encode(wire)]),
    openAiUpstream.streamReader(true),
    60_000,
    () => new UpstreamError("timeout", "idle"),
  );
  assert.match(decoder.decode((await pieces.next())!), /"content":"a"/);
  await assert.rejects(
    pieces.next(),
    (e: Error) => e instanceof UpstreamError && e.kind === "protocol",
  );
  assert.equal(pieces.text(), "a");
});

/** A body that sends one event and then nothing; `cancelled()` tells whether it was cancelled. */
function oneEventThenSilence() {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    type: "bytes",
    start(controller) {
      controller.enqueue(encoder.encode('data: {"model":"m","choices":[]}\n\n'));
    },
    cancel() {
      cancelled = true;
    },
  });
  return { body, cancelled: () => cancelled };
}

Deno.test("an upstream silent for longer than the idle limit fails the stream and is cancelled", async () => {
  const { body, cancelled } = oneEventThenSilence();
  const pieces = new UpstreamPieces(
    body,
    openAiUpstream.streamReader(true),
    40,
    () => new UpstreamError("timeout", "silent"),
  );
  assert.notEqual(await pieces.next(), null);
  const started = performance.now();
  await assert.rejects(
    pieces.next(),
    (e: Error) => e instanceof UpstreamError && e.message === "silent",
  );
  assert.ok(performance.now() - started >= 35);
  await eventually("the body is cancelled", within(2_000), () => cancelled());
});

Deno.test("a client slower than the idle limit is not the upstream idling", async () => {
  const chunks = ['data: {"model":"m","choices":[]}\n\n', "data: [DONE]\n\n"]
    .map((c) => encoder.encode(c));
  const pieces = new UpstreamPieces(
    bodyOf(chunks),
    openAiUpstream.streamReader(true),
    30,
    () => new UpstreamError("timeout", "silent"),
  );
  assert.notEqual(await pieces.next(), null);
  // The client takes its time before asking for more.
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.equal(decoder.decode((await pieces.next())!), "data: [DONE]\n\n");
  assert.equal(pieces.final, true);
  pieces.stop();
});

Deno.test("stopping cancels the upstream body", async () => {
  const { body, cancelled } = oneEventThenSilence();
  const pieces = new UpstreamPieces(
    body,
    openAiUpstream.streamReader(true),
    60_000,
    () => new UpstreamError("timeout", "idle"),
  );
  await pieces.next();
  pieces.stop();
  await eventually("the body is cancelled", within(2_000), () => cancelled());
});
