/**
 * Logs are structured JSON, one object per line, and every request writes one line with its request
 * id, tenant, status, model and cost. The prompt and the reply never appear in a log line, and on
 * spans only with TRACE_CONTENT=true.
 */
import assert from "node:assert/strict";
import { testApp } from "../helpers/app.ts";

const MARKER = "zebra-quartz-prompt-marker";
const PROMPT = `${MARKER}: explain transformers in 3 sentences`;

/** Sends one of each kind of request: served and refused, on each API. */
async function traffic(t: ReturnType<typeof testApp>): Promise<number> {
  const requests: [string, unknown, Record<string, string>][] = [
    ["/v1/inference", { prompt: PROMPT, tenant: "team-search" }, { "x-request-id": "req-ok-1" }],
    ["/v1/inference", { prompt: PROMPT, model: "no-such-model" }, { "x-request-id": "req-bad-2" }],
    ["/v1/inference", { prompt: PROMPT, max_tokens: -1 }, {}],
    [
      "/v1/chat/completions",
      { model: "gpt-4o-mini", messages: [{ role: "user", content: PROMPT }] },
      { "x-tenant-id": "team-chat" },
    ],
    [
      "/v1/chat/completions",
      { model: "gpt-4o-mini", messages: [{ role: "user", content: PROMPT }], stream: true },
      {},
    ],
    [
      "/v1/messages",
      { model: "claude-3.5-haiku", max_tokens: 20, messages: [{ role: "user", content: PROMPT }] },
      {},
    ],
  ];
  for (const [path, body, headers] of requests) {
    const res = await t.post(path, body, headers);
    await res.text();
  }
  return requests.length;
}

Deno.test("every request writes one JSON log line with request id, tenant, status, model and cost", async () => {
  const t = testApp({ LOG_LEVEL: "info" });
  const sent = await traffic(t);
  const lines = t.logLines.map((line) => JSON.parse(line));
  for (const line of lines) {
    assert.equal(typeof line.time, "string");
    assert.ok(["debug", "info", "warn", "error"].includes(line.level));
    assert.equal(typeof line.msg, "string");
  }
  const requests = lines.filter((l) => l.msg === "request");
  assert.equal(requests.length, sent);
  for (const r of requests) {
    assert.equal(typeof r.request_id, "string");
    assert.equal(typeof r.tenant, "string");
    assert.equal(typeof r.status, "string");
    assert.equal(typeof r.model, "string");
    assert.ok(typeof r.cost_usd === "number" || r.cost_usd === null);
    assert.equal(typeof r.duration_ms, "number");
    assert.match(r.trace_id, /^[0-9a-f]{32}$/);
  }
  const byId = new Map(requests.map((r) => [r.request_id, r]));
  assert.deepEqual(
    [byId.get("req-ok-1")?.tenant, byId.get("req-ok-1")?.status],
    ["team-search", "ok"],
  );
  assert.equal(byId.get("req-bad-2")?.status, "unknown_model");
  assert.ok(requests.some((r) => r.tenant === "team-chat"));
});

Deno.test("neither the prompt nor the reply appears in any log line or, by default, on any span", async () => {
  const t = testApp({ LOG_LEVEL: "debug" });
  await traffic(t);
  assert.ok(t.logLines.length > 0);
  const logged = t.logLines.filter((line) => line.includes(MARKER) || line.includes("Response to"));
  assert.deepEqual(logged, []);
  for (const span of t.exporter.getFinishedSpans()) {
    const text = JSON.stringify({
      name: span.name,
      attributes: span.attributes,
      events: span.events,
    });
    assert.equal(text.includes(MARKER), false, `span ${span.name} carries the prompt`);
  }
});

Deno.test("with TRACE_CONTENT=true the prompt is on the spans and still never in the logs", async () => {
  const t = testApp({ LOG_LEVEL: "debug", TRACE_CONTENT: "true" });
  await traffic(t);
  const spans = t.exporter.getFinishedSpans().filter((s) =>
    JSON.stringify(s.attributes).includes(MARKER)
  );
  assert.ok(spans.length >= 3, "opted-in content is recorded on spans");
  assert.deepEqual(t.logLines.filter((line) => line.includes(MARKER)), []);
});
