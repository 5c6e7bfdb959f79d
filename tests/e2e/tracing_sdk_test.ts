import assert from "node:assert/strict";
import { startOtlpReceiver, startServer } from "../helpers/server.ts";
import { eventually, within } from "../helpers/poll.ts";
import { parseExposition } from "../helpers/prom.ts";

Deno.test("with only an OTLP endpoint set, the SDK batch exporter delivers every span with its attributes, and exemplars name those traces", async () => {
  const receiver = startOtlpReceiver();
  const server = await startServer({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_SERVICE_NAME: "inference-cost-tracker",
  });
  let exitCode: number | undefined;
  try {
    const listening = server.logs.map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return {};
      }
    }).find((l) => l.msg === "listening");
    assert.equal(listening?.traces, "sdk");
    for (const tenant of ["team-search", "team-chat"]) {
      const res = await fetch(`${server.url}/v1/inference`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        },
        body: JSON.stringify({
          prompt: "Explain transformers in 3 sentences",
          model: "gpt-4o-mini",
          tenant,
        }),
      });
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }
    const scrape = await fetch(`${server.url}/metrics`, {
      headers: { accept: "application/openmetrics-text; version=1.0.0" },
    });
    const exposition = await scrape.text();
    parseExposition(exposition);
    const exemplarTraceIds = [...exposition.matchAll(/trace_id="([0-9a-f]{32})"/g)].map((m) =>
      m[1]
    );
    assert.ok(exemplarTraceIds.length > 0, "no trace_id exemplar in the OpenMetrics exposition");
  } finally {
    exitCode = await server.stop("SIGTERM");
  }
  try {
    // The batch processor flushes on SIGTERM: both spans are there once the server has exited.
    const spans = await eventually("two inference_request spans", within(15_000), () => {
      const found = receiver.spans.filter((s) => s.name === "inference_request");
      return found.length >= 2 ? found : undefined;
    });
    for (const span of spans) {
      assert.equal(span.resource["service.name"], "inference-cost-tracker");
      // The client's trace is continued: same trace id, its span as parent.
      assert.equal(span.traceId, "0af7651916cd43dd8448eb211c80319c");
      assert.equal(span.parentSpanId, "b7ad6b7169203331");
      assert.equal(span.attributes["inference.cost_usd"], 0.0000069);
      assert.equal(span.attributes["gen_ai.usage.input_tokens"], 6);
      assert.equal(span.attributes["gen_ai.usage.output_tokens"], 10);
      assert.equal(span.attributes["gen_ai.request.model"], "gpt-4o-mini");
      assert.equal(span.attributes["inference.status"], "ok");
    }
    assert.deepEqual(
      spans.map((s) => s.attributes["inference.tenant"]).sort(),
      ["team-chat", "team-search"],
    );
    // Deno's automatic HTTP span is not there: only this server's spans were exported.
    assert.equal(receiver.spans.filter((s) => s.name !== "inference_request").length, 0);
  } finally {
    await receiver.stop();
  }
  assert.equal(exitCode, 0);
});
