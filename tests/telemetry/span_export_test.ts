/**
 * Span export through the worker: records rebuilt on the other side serialize to exactly the
 * OTLP bytes the spans themselves give, and the processor pair (request path and worker side,
 * joined here by a MessageChannel) delivers every sampled span, batches as OTEL_BSP_* says, and
 * flushes and shuts down completely.
 */
import assert from "node:assert/strict";
import {
  createTraceState,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
} from "@opentelemetry/api";
import {
  type ReadableSpan,
  type Sampler,
  SamplingDecision,
  type SpanExporter,
  type SpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { SpanRebuilder, spanRecord } from "../../src/telemetry/span_records.ts";
import { jsonSafe, serveSpanExport, WorkerSpanProcessor } from "../../src/telemetry/span_export.ts";
import { eventually, within } from "../helpers/poll.ts";

const resource = defaultResource().merge(
  resourceFromAttributes({ "service.name": "inference-cost-tracker" }),
);

/** Finished spans of every shape the serializers read. */
function finishedSpans(): ReadableSpan[] {
  const spans: ReadableSpan[] = [];
  const collect: SpanProcessor = {
    onStart() {},
    onEnd: (span) => void spans.push(span),
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  const provider = new TracerProvider({ resource, spanProcessors: [collect] });
  const tracer = provider.getTracer("inference-cost-tracker");
  const other = provider.getTracer("other-scope", "1.2.3", { schemaUrl: "https://x/schema" });
  const remote = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: createTraceState("vendor=a,other=b"),
  });
  const server = tracer.startSpan("inference_request", { kind: SpanKind.SERVER }, remote);
  server.setAttributes({
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.usage.input_tokens": 14,
    "inference.cost_usd": 0.0000741,
    "inference.flag": true,
    "inference.list": ["a", "b"],
    "inference.numbers": [1, 2.5],
    "inference.text": 'quote " and é and \ud83d\ude00',
  });
  server.addEvent("first_token", { "gen_ai.token": "Hi" });
  server.addLink({
    context: {
      traceId: "11111111111111111111111111111111",
      spanId: "2222222222222222",
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
      traceState: createTraceState("k=v"),
    },
    attributes: { "link.kind": "retry" },
  });
  const child = tracer.startSpan(
    "chat gpt-4o-mini",
    { kind: SpanKind.CLIENT },
    trace.setSpan(ROOT_CONTEXT, server),
  );
  child.setStatus({ code: SpanStatusCode.ERROR, message: "upstream_error" });
  child.end();
  server.setStatus({ code: SpanStatusCode.OK });
  server.end();
  const lone = other.startSpan("lone");
  lone.end();
  return spans;
}

function rebuilt(spans: ReadableSpan[], viaJson: boolean): ReadableSpan[] {
  const records = spans.map(spanRecord);
  const carried = viaJson ? JSON.parse(JSON.stringify(records)) : structuredClone(records);
  const rebuilder = new SpanRebuilder(
    resourceFromAttributes(resource.attributes, { schemaUrl: resource.schemaUrl }),
  );
  return carried.map((record: ReturnType<typeof spanRecord>) => rebuilder.span(record));
}

Deno.test("spans rebuilt from their records give the OTLP bytes the spans give, protobuf and JSON", () => {
  const spans = finishedSpans();
  assert.equal(spans.length, 3);
  for (const viaJson of [true, false]) {
    const copies = rebuilt(spans, viaJson);
    assert.deepEqual(
      ProtobufTraceSerializer.serializeRequest(copies),
      ProtobufTraceSerializer.serializeRequest(spans),
    );
    assert.deepEqual(
      new TextDecoder().decode(JsonTraceSerializer.serializeRequest(copies)),
      new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans)),
    );
  }
});

Deno.test("numbers JSON cannot carry are noticed, so their batch travels as records", () => {
  const [span] = finishedSpans();
  assert.equal(jsonSafe(spanRecord(span)), true);
  for (const odd of [NaN, Infinity, -0, [1, NaN], [1, undefined]]) {
    const record = { ...spanRecord(span), attributes: { x: odd } } as ReturnType<
      typeof spanRecord
    >;
    assert.equal(jsonSafe(record), false, String(odd));
  }
});

/** Records what the worker side exports (the SDK's in-memory exporter forgets at shutdown). */
function keepingExporter() {
  const spans: ReadableSpan[] = [];
  const exporter: SpanExporter = {
    export(batch, done) {
      spans.push(...batch);
      done({ code: 0 });
    },
    shutdown: () => Promise.resolve(),
  };
  return { spans, exporter };
}

// Records every span; samples all but those named "unsampled".
const sampler: Sampler = {
  shouldSample: (_context, _traceId, name) => ({
    decision: name === "unsampled" ? SamplingDecision.RECORD : SamplingDecision.RECORD_AND_SAMPLED,
  }),
  toString: () => "test",
};

/** The two sides joined in this process. */
function pair(batch = { maxExportBatchSize: 2, scheduledDelayMs: 60_000, maxQueueSize: 100 }) {
  const { spans, exporter } = keepingExporter();
  const channel = new MessageChannel();
  serveSpanExport(channel.port2, () => exporter);
  let stopped = false;
  const processor = new WorkerSpanProcessor(
    {
      protocol: "http/protobuf",
      resource: { attributes: resource.attributes },
      batch,
    },
    channel.port1,
    () => {
      stopped = true;
      channel.port1.close();
      channel.port2.close();
    },
  );
  const provider = new TracerProvider({ resource, sampler, spanProcessors: [processor] });
  return { exported: spans, provider, tracer: provider.getTracer("t"), stopped: () => stopped };
}

Deno.test("a full batch goes out without waiting for the schedule; a flush sends the rest", async () => {
  const { exported, provider, tracer } = pair();
  for (let i = 0; i < 3; i++) tracer.startSpan(`s${i}`).end();
  await eventually("the full batch is exported", within(5_000), () => exported.length === 2);
  await provider.forceFlush();
  assert.deepEqual(exported.map((s) => s.name).sort(), ["s0", "s1", "s2"]);
  await provider.shutdown();
});

Deno.test("unsampled spans are not sent; shutdown exports what is left and ends the worker", async () => {
  const { exported, provider, tracer, stopped } = pair({
    maxExportBatchSize: 64,
    scheduledDelayMs: 60_000,
    maxQueueSize: 100,
  });
  tracer.startSpan("kept").end();
  const unsampled = tracer.startSpan("unsampled");
  assert.equal(unsampled.isRecording(), true);
  unsampled.end();
  const odd = tracer.startSpan("odd");
  odd.setAttribute("ratio", NaN);
  odd.end();
  await provider.shutdown();
  assert.equal(stopped(), true);
  assert.deepEqual(exported.map((s) => s.name).sort(), ["kept", "odd"]);
  const oddSpan = exported.find((s) => s.name === "odd")!;
  assert.ok(Number.isNaN(oddSpan.attributes.ratio), "NaN arrives as NaN");
});

Deno.test("a worker that failed is abandoned: nothing waits for it and spans are no longer taken", async () => {
  const posted: unknown[] = [];
  const silent = { onmessage: null, postMessage: (m: unknown) => void posted.push(m) };
  const processor = new WorkerSpanProcessor(
    {
      protocol: "http/protobuf",
      resource: { attributes: {} },
      batch: { maxExportBatchSize: 64, scheduledDelayMs: 1000, maxQueueSize: 100 },
    },
    silent,
    () => {},
  );
  const flushing = processor.forceFlush();
  processor.abandon();
  await flushing;
  const provider = new TracerProvider({ sampler, spanProcessors: [processor] });
  provider.getTracer("t").startSpan("late").end();
  await processor.forceFlush();
  assert.deepEqual(posted.map((m) => (m as { type: string }).type), ["setup", "flush"]);
});

Deno.test("an unreadable batch is dropped by the worker side without an error escaping", async () => {
  const { spans, exporter } = keepingExporter();
  let answer: unknown;
  const end = {
    onmessage: null as ((e: MessageEvent) => void) | null,
    postMessage: (m: unknown) => answer = m,
  };
  serveSpanExport(end, () => exporter);
  const send = (data: unknown) => end.onmessage!(new MessageEvent("message", { data }));
  send({
    type: "setup",
    setup: {
      protocol: "http/protobuf",
      resource: { attributes: {} },
      batch: { maxExportBatchSize: 64, scheduledDelayMs: 1000, maxQueueSize: 100 },
    },
  });
  await send({ type: "spans", json: "{not json" });
  await send({ type: "spans", spans: [{ broken: true }] });
  await send({ type: "shutdown", id: 7 });
  assert.deepEqual(answer, { id: 7 });
  assert.equal(spans.length, 0);
});
