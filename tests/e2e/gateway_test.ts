/**
 * The gateway in the real server process (Deno's built-in OpenTelemetry on, spans received over
 * OTLP) in front of the fake upstream: the trace reaches the upstream as one valid `traceparent`,
 * and a client that disconnects mid-stream is recorded as client_closed.
 */
import assert from "node:assert/strict";
import { startOtlpReceiver, startServer } from "../helpers/server.ts";
import { eventually, within } from "../helpers/poll.ts";
import { fakeProviders, startFakeUpstream } from "../helpers/fake_upstream.ts";
import { parseExposition, total } from "../helpers/prom.ts";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

Deno.test("through the real server the upstream call continues the client's trace and a disconnect is billed as client_closed", async () => {
  const receiver = startOtlpReceiver();
  const fake = startFakeUpstream();
  const providersFile = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(providersFile, JSON.stringify(fakeProviders(fake)));
  const server = await startServer({
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    PROVIDERS_FILE: providersFile,
    FAKE_UPSTREAM_KEY: "sk-e2e",
  });
  let exitCode: number | undefined;
  try {
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01`,
      },
      body: JSON.stringify({
        model: "gpt-4o-mini",
        stream: true,
        messages: [{ role: "user", content: "hi" }],
      }),
    });
    assert.equal(res.status, 200);
    await res.text();

    fake.behaviour = { mode: "stall", chunks: 2 };
    const leaving = new AbortController();
    const stalled = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-tenant-id": "team-chat" },
      body: JSON.stringify({
        model: "gpt-4o-mini",
        stream: true,
        messages: [{ role: "user", content: "hi" }],
      }),
      signal: leaving.signal,
    });
    const reader = stalled.body!.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes('"content":" from"')) seen += (await reader.read()).value ?? "";
    leaving.abort();
    await reader.cancel().catch(() => {});

    const labels = { model: "gpt-4o-mini", tenant: "team-chat", status: "client_closed" };
    await eventually("the disconnect to be recorded", within(15_000), async () => {
      const m = parseExposition(await (await fetch(`${server.url}/metrics`)).text());
      return total(m, "inference_requests_total", labels) === 1;
    });
    await eventually(
      "the upstream to be abandoned",
      within(15_000),
      () => fake.aborted === 1,
    );
  } finally {
    exitCode = await server.stop();
    await fake.stop();
    await Deno.remove(providersFile);
  }
  assert.equal(exitCode, 0);

  const traceparent = fake.requests[0].headers.traceparent;
  assert.match(traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, "exactly one valid traceparent");
  assert.equal(traceparent.slice(3, 35), TRACE_ID);
  const spans = await eventually("the trace's spans", within(15_000), () => {
    const inTrace = receiver.spans.filter((s) => s.traceId === TRACE_ID);
    return inTrace.some((s) => s.spanId === traceparent.slice(36, 52)) ? inTrace : undefined;
  });
  await receiver.stop();
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  // Walk up from the span the upstream saw: the gateway's CLIENT span, then the request's span.
  const names: string[] = [];
  for (let s = byId.get(traceparent.slice(36, 52)); s; s = byId.get(s.parentSpanId)) {
    names.push(s.name);
  }
  assert.ok(names.includes("chat gpt-4o-mini-2024-07-18"), names.join(" <- "));
  assert.equal(
    names.indexOf("inference_request"),
    names.indexOf("chat gpt-4o-mini-2024-07-18") + 1,
    names.join(" <- "),
  );
});
