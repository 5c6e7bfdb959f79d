import assert from "node:assert/strict";
import { acceptsOpenMetrics, renderMetrics } from "../../src/telemetry/exposition.ts";
import { testApp } from "../helpers/app.ts";
import { parseExposition } from "../helpers/prom.ts";

const PROMETHEUS_ACCEPT =
  "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";

Deno.test("OpenMetrics is served only to scrapers that accept it", () => {
  assert.equal(acceptsOpenMetrics(PROMETHEUS_ACCEPT), true);
  assert.equal(acceptsOpenMetrics("text/plain"), false);
  assert.equal(acceptsOpenMetrics(undefined), false);
  assert.equal(acceptsOpenMetrics("application/openmetrics-text;q=0"), false);
});

Deno.test("plain-text scrapes get the classic format: same samples, no exemplars, _total families", async () => {
  const t = testApp();
  await t.post("/v1/inference", { prompt: "hello there", model: "gpt-4o", tenant: "team-chat" });
  const registry = t.services.metrics.registry;
  const [om, omType] = await renderMetrics(registry, PROMETHEUS_ACCEPT);
  const [text, textType] = await renderMetrics(registry, "text/plain");
  assert.match(omType, /openmetrics-text/);
  assert.match(textType, /^text\/plain; version=0\.0\.4/);
  assert.ok(om.endsWith("# EOF\n"));
  const a = parseExposition(om);
  const b = parseExposition(text);
  const strip = (e: typeof a) =>
    e.samples.filter((s) => s.name.startsWith("inference_")).map((s) => ({
      ...s,
      exemplar: undefined,
    }));
  assert.deepEqual(strip(b), strip(a));
  assert.ok(a.samples.some((s) => s.exemplar), "OpenMetrics carries exemplars");
  assert.ok(!b.samples.some((s) => s.exemplar), "classic text has none");
  assert.equal(b.types.get("inference_cost_usd_total"), "counter");
  assert.equal(a.types.get("inference_cost_usd"), "counter");
});

Deno.test("GET /metrics negotiates the format from the Accept header", async () => {
  const t = testApp();
  const plain = await t.app.request("/metrics");
  assert.match(plain.headers.get("content-type") ?? "", /^text\/plain/);
  const om = await t.app.request("/metrics", { headers: { accept: PROMETHEUS_ACCEPT } });
  assert.match(om.headers.get("content-type") ?? "", /^application\/openmetrics-text/);
  const parsed = parseExposition(await om.text());
  assert.ok(parsed.samples.some((s) => s.name === "process_resident_memory_bytes" && s.value > 0));
  assert.ok(parsed.samples.some((s) => s.name === "process_cpu_user_seconds_total"));
});

Deno.test("two apps in one process never collide on metric registration", () => {
  testApp();
  testApp();
});
