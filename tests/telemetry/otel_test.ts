import assert from "node:assert/strict";
import { ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import { SamplingDecision } from "@opentelemetry/sdk-trace";
import { loadConfig } from "../../src/config.ts";
import { samplerFor, setupTracing, spanPipeline } from "../../src/telemetry/otel.ts";

const pipelineOf = (env: Record<string, string>) => spanPipeline(loadConfig(env));

Deno.test("with nothing configured spans go nowhere", () => {
  assert.equal(pipelineOf({}), "none");
});

Deno.test("an OTLP endpoint alone selects the SDK batch exporter", () => {
  assert.equal(pipelineOf({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }), "sdk");
  assert.equal(
    pipelineOf({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:4318/v1/traces" }),
    "sdk",
  );
});

Deno.test("OTEL_DENO=true keeps Deno's own tracer while Deno's tracing is on, the SDK once it is off", () => {
  assert.equal(pipelineOf({ OTEL_DENO: "true" }), "deno");
  assert.equal(pipelineOf({ OTEL_DENO: "true", OTEL_DENO_TRACING: "false" }), "sdk");
});

Deno.test("OTEL_TRACES_EXPORTER=console and none win over every other setting", () => {
  const on = { OTEL_DENO: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" };
  assert.equal(pipelineOf({ ...on, OTEL_TRACES_EXPORTER: "console" }), "console");
  assert.equal(pipelineOf({ ...on, OTEL_TRACES_EXPORTER: "none" }), "none");
});

Deno.test("the default sampler traces every request and a bad sampler setting is refused by name", () => {
  const config = loadConfig({});
  assert.equal(config.tracesSampler, "parentbased_always_on");
  assert.equal(config.otlpTracesProtocol, "http/protobuf");
  assert.throws(() => loadConfig({ OTEL_TRACES_SAMPLER: "sometimes" }), /OTEL_TRACES_SAMPLER/);
  assert.throws(() => loadConfig({ OTEL_TRACES_SAMPLER_ARG: "1.5" }), /OTEL_TRACES_SAMPLER_ARG/);
  assert.throws(
    () => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }),
    /OTEL_EXPORTER_OTLP_PROTOCOL/,
  );
});

Deno.test("the batch exporter sends batches of up to 512 spans every second by default, as the standard variables can change", () => {
  assert.deepEqual(loadConfig({}).spanBatch, {
    maxExportBatchSize: 512,
    scheduledDelayMs: 1000,
    maxQueueSize: 2048,
  });
  assert.deepEqual(
    loadConfig({
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "512",
      OTEL_BSP_SCHEDULE_DELAY: "5000",
      OTEL_BSP_MAX_QUEUE_SIZE: "4096",
    }).spanBatch,
    { maxExportBatchSize: 512, scheduledDelayMs: 5000, maxQueueSize: 4096 },
  );
});

Deno.test("the traces protocol setting wins over the general one", () => {
  const config = loadConfig({
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json",
  });
  assert.equal(config.otlpTracesProtocol, "http/json");
});

function decide(name: Parameters<typeof samplerFor>[0], ratio: number, parentSampled?: boolean) {
  const parent = parentSampled === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, {
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    traceFlags: parentSampled ? 1 : 0,
    isRemote: true,
  });
  // A trace id in the lower half of the id space: kept by a 0.5 ratio, dropped by 0.
  return samplerFor(name, ratio).shouldSample(
    parent,
    "00000000000000000000000000000001",
    "inference_request",
    SpanKind.SERVER,
    {},
    [],
  ).decision;
}

Deno.test("samplers follow the standard OTEL_TRACES_SAMPLER names", () => {
  const sampled = SamplingDecision.RECORD_AND_SAMPLED;
  const dropped = SamplingDecision.NOT_RECORD;
  assert.equal(decide("always_on", 1), sampled);
  assert.equal(decide("always_off", 1), dropped);
  assert.equal(decide("traceidratio", 0), dropped);
  assert.equal(decide("traceidratio", 1), sampled);
  assert.equal(decide("parentbased_always_on", 1), sampled);
  assert.equal(decide("parentbased_always_on", 1, false), dropped);
  assert.equal(decide("parentbased_traceidratio", 0, true), sampled);
  assert.equal(decide("parentbased_traceidratio", 0), dropped);
});

Deno.test("the none pipeline hands out spans that record nothing", async () => {
  const tracing = setupTracing(loadConfig({}));
  const span = tracing.tracer.startSpan("inference_request");
  assert.equal(span.isRecording(), false);
  span.end();
  await tracing.flush();
});
