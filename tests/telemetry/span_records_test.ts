import assert from "node:assert/strict";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import {
  decodeRecords,
  encodeRecords,
  SpanRebuilder,
  toRecord,
} from "../../src/telemetry/span_records.ts";

function finishedSpans() {
  const exporter = new InMemorySpanExporter();
  const resource = resourceFromAttributes({ "service.name": "records-test" });
  const provider = new TracerProvider({
    resource,
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer("records-test", "1.2.3");
  const remote = trace.setSpanContext(context.active(), {
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    traceFlags: 1,
    isRemote: true,
  });
  const server = tracer.startSpan("inference_request", { kind: SpanKind.SERVER }, remote);
  server.setAttributes({
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.usage.input_tokens": 6,
    "cost.usd": 0.0000069,
    "flag": true,
    "list": ["a", "é", "😀"],
  });
  server.addEvent("budget_checked", { "tenant": "acme" });
  server.addLink({ context: server.spanContext(), attributes: { "why": "retry" } });
  const child = tracer.startSpan(
    "chat gpt-4o-mini",
    { kind: SpanKind.CLIENT },
    trace.setSpan(context.active(), server),
  );
  child.setStatus({ code: SpanStatusCode.ERROR, message: "upstream_timeout" });
  child.end();
  server.setStatus({ code: SpanStatusCode.OK });
  server.end();
  const other = provider.getTracer("other-scope").startSpan("plain");
  other.end();
  return { spans: exporter.getFinishedSpans(), resource };
}

Deno.test("spans rebuilt from their records, sent as JSON text, serialize to the same OTLP bytes, protobuf and JSON", () => {
  const { spans, resource } = finishedSpans();
  assert.equal(spans.length, 3);
  const records = decodeRecords(encodeRecords(spans.map(toRecord)));
  const rebuilder = new SpanRebuilder(resource);
  const rebuilt = records.map((record) => rebuilder.rebuild(record));
  assert.deepEqual(
    ProtobufTraceSerializer.serializeRequest(rebuilt),
    ProtobufTraceSerializer.serializeRequest(spans),
  );
  const json = (bytes: Uint8Array | undefined) => JSON.parse(new TextDecoder().decode(bytes));
  const expected = json(JsonTraceSerializer.serializeRequest(spans));
  assert.deepEqual(json(JsonTraceSerializer.serializeRequest(rebuilt)), expected);
  // Two scopes, the parent's remote context and the link survive.
  const scopes = expected.resourceSpans[0].scopeSpans;
  assert.equal(scopes.length, 2);
  const server = scopes[0].spans.find((s: { name: string }) => s.name === "inference_request");
  assert.equal(server.parentSpanId, "b7ad6b7169203331");
  assert.equal(server.links.length, 1);
  assert.equal(server.events[0].name, "budget_checked");
});
