import assert from "node:assert/strict";
import client from "prom-client";
import {
  acceptsOpenMetrics,
  renderMetrics,
  renderRegistry,
} from "../../src/telemetry/exposition.ts";
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

/** Drops the process_* and nodejs_* families: their values move between two renders. */
function withoutProcessFamilies(text: string): string {
  return text.split("\n").filter((l) => !/^(?:# (?:HELP|TYPE) )?(?:process|nodejs)_/.test(l))
    .join("\n");
}

/** The classic text format as derived from prom-client's OpenMetrics, line by line. */
function classicFromOpenMetrics(openMetrics: string): string {
  const lines = openMetrics.split("\n").filter((l) => l !== "" && l !== "# EOF");
  const counters = new Set(
    lines.filter((l) => l.startsWith("# TYPE ") && l.endsWith(" counter")).map((l) =>
      l.split(" ")[2]
    ),
  );
  return lines.map((line) => {
    const m = /^(# (?:HELP|TYPE) )(\S+)(.*)$/.exec(line);
    if (m) return counters.has(m[2]) ? `${m[1]}${m[2]}_total${m[3]}` : line;
    return line.replace(/ # \{[^{}]*\} \S+(?: \S+)?$/, "");
  }).join("\n") + "\n";
}

Deno.test("the exposition is byte for byte what prom-client renders, before and after values change", async () => {
  const t = testApp();
  const registry = t.services.metrics.registry;
  const registers = [registry as unknown as client.Registry];
  const odd = new client.Counter({
    name: "test_escaping_total",
    help: "help with a \\ backslash\nand a newline",
    labelNames: ["v"],
    registers,
  });
  odd.inc({ v: 'quote " backslash \\ newline \n end' }, 2);
  const gauge = new client.Gauge({
    name: "test_special_values",
    help: "x",
    labelNames: ["k"],
    registers,
  });
  gauge.set({ k: "nan" }, NaN);
  gauge.set({ k: "inf" }, Infinity);
  gauge.set({ k: "-inf" }, -Infinity);
  gauge.set({ k: "gone" }, 1);
  new client.Histogram({ name: "test_unlabelled_seconds", help: "x", buckets: [1], registers })
    .observe(0.5);
  await t.post("/v1/inference", { prompt: "hello there", model: "gpt-4o", tenant: "team-chat" });

  const compare = async () => {
    const ours = await renderRegistry(registry, true);
    const theirs = await registry.metrics();
    assert.equal(withoutProcessFamilies(ours), withoutProcessFamilies(theirs));
    assert.equal(
      withoutProcessFamilies(await renderRegistry(registry, false)),
      withoutProcessFamilies(classicFromOpenMetrics(theirs)),
    );
    return ours;
  };
  const first = await compare();
  assert.match(first, / # \{trace_id="[0-9a-f]{32}"\} /, "exemplars are rendered");
  // A second render reuses the unchanged lines; changed, new and removed series must show.
  await t.post("/v1/inference", { prompt: "hello again", model: "gpt-4o", tenant: "team-chat" });
  await t.post("/v1/inference", {
    prompt: "first time",
    model: "gpt-4o-mini",
    tenant: "team-search",
  });
  odd.inc({ v: 'quote " backslash \\ newline \n end' }, 1);
  gauge.remove({ k: "gone" });
  gauge.set({ k: "nan" }, 3);
  const second = await compare();
  assert.notEqual(second, first);
  assert.ok(!second.includes('k="gone"'));
});
