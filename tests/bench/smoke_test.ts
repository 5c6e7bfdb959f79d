/**
 * The benchmark's smoke mode, as CI runs it: each scenario for a second or two against real
 * processes on 127.0.0.1. These tests check that every scenario works and reports what it should
 * — never a time or a ratio.
 */
import assert from "node:assert/strict";
import { runBench, SCENARIOS, targetsMarkdown } from "../../scripts/bench/main.ts";
import type { ScenarioReport } from "../../scripts/bench/lib/context.ts";
import { TARGETS } from "../../scripts/bench/lib/targets.ts";

async function smoke(id: string): Promise<ScenarioReport> {
  const [report] = await runBench({ smoke: true, only: [id], quiet: true });
  assert.equal(report.id, id);
  assert.ok(report.startedAt);
  assert.equal(report.loadBefore.length, 3);
  return report;
}

interface LoadSample {
  readonly requests: number;
  readonly errors: number;
}

Deno.test("the bench runs eight scenarios, in the documented order", () => {
  assert.deepEqual(SCENARIOS.map((s) => s.id), [
    "ceiling",
    "gateway",
    "streaming",
    "tokenization",
    "metrics",
    "cold-start",
    "floor",
    "gc",
  ]);
});

Deno.test("smoke: the ceiling scenario serves both contenders and the full path's spans reach the collector", async () => {
  const report = await smoke("ceiling");
  const raw = report.raw as Record<
    string,
    { load: LoadSample; spansPerRequest?: number; cpuMicrosPerRequest: number }[]
  >;
  assert.deepEqual(Object.keys(raw).sort(), ["ceiling", "shipped"]);
  for (const samples of Object.values(raw)) {
    assert.ok(samples[0].load.requests > 0);
    assert.equal(samples[0].load.errors, 0);
    assert.ok(samples[0].cpuMicrosPerRequest > 0);
  }
  const spans = raw.shipped[0].spansPerRequest;
  if (spans !== undefined) assert.ok(spans > 0, "the shipped setup exported no span");
  assert.ok(report.headline["full path ÷ ceiling, shipped default (every request traced), req/s"]);
  assert.equal(report.tables[0].rows.length, 2);
});

Deno.test("smoke: the gateway scenario measures every contender in all three modes without errors", async () => {
  const report = await smoke("gateway");
  const raw = report.raw as Record<string, { load: LoadSample }[]>;
  for (
    const contender of [
      "direct",
      "proxy",
      "gateway",
      "direct-stream",
      "proxy-stream",
      "gateway-stream",
    ]
  ) {
    for (const mode of ["one-client", "fixed-rate", "max"]) {
      const samples = raw[`${contender}/${mode}`];
      assert.ok(samples, `${contender}/${mode} missing`);
      assert.ok(samples[0].load.requests > 0);
      assert.equal(samples[0].load.errors, 0);
    }
  }
  assert.equal(report.tables.length, 3);
  // The target's figure comes with the bare proxy's, measured in the same rounds.
  assert.match(report.targets?.["gateway-p99-1000"]?.text ?? "", /; the bare proxy [+-]\d/);
});

Deno.test("smoke: the streaming scenario times the first and last token through the gateway", async () => {
  const report = await smoke("streaming");
  type Timing = { ttftP50: number; ttftP99: number; ttltP50: number };
  const raw = report.raw as Record<string, Timing[]> & { tail: Record<string, Timing[]> };
  for (const kind of ["direct", "gateway"]) {
    const [s] = raw[kind];
    assert.ok(s.ttftP50 > 0 && s.ttltP50 >= s.ttftP50, `${kind}: ${JSON.stringify(s)}`);
  }
  for (const kind of ["direct", "proxy", "gateway"]) {
    const [t] = raw.tail[kind];
    assert.ok(t.ttftP50 > 0 && t.ttftP99 >= t.ttftP50, `${kind} tail: ${JSON.stringify(t)}`);
  }
  assert.match(report.targets?.["stream-ttft-p99"]?.text ?? "", /; the bare proxy [+-]\d/);
});

Deno.test("smoke: the tokenization scenario runs the tokenizer benchmark and includes its report", async () => {
  const report = await smoke("tokenization");
  assert.ok(report.appendix && report.appendix.length > 0);
  assert.ok(report.headline["prose, ours (warm)"]);
});

Deno.test("smoke: the metrics scenario builds one series per model and tenant and renders them in both formats", async () => {
  const report = await smoke("metrics");
  const [table] = report.tables;
  assert.deepEqual(table.rows.map((r) => r[0]), ["OpenMetrics", "text 0.0.4"]);
  // Every model × tenant pair, plus each model's series for `other` (started at zero).
  const series = Number(
    /^([\d,]+) series per model × tenant family/.exec(table.title ?? "")?.[1]
      .replaceAll(",", ""),
  );
  assert.equal(series, 10 * (10 + 1));
  assert.ok(report.targets?.["metrics-render"]);
});

Deno.test("smoke: the cold-start scenario gets a priced answer from a fresh process", async () => {
  const report = await smoke("cold-start");
  const raw = report.raw as Record<string, number[]>;
  assert.ok(raw.server.length === 1 && raw.server[0] > 0);
  assert.ok(raw.bare.length === 1 && raw.bare[0] > 0);
});

Deno.test("smoke: the floor scenario measures every contender against its floor and reports its ratios", async () => {
  const report = await smoke("floor");
  const raw = report.raw as Record<string, { load: LoadSample; cpuMicrosPerRequest: number }[]>;
  assert.deepEqual(Object.keys(raw).sort(), [
    "gateway",
    "gateway-no-ledger",
    "gateway-stream",
    "hono",
    "inference",
    "inference-no-ledger",
    "inference-traced",
    "proxy",
    "proxy-stream",
    "required-chat",
    "required-inference",
    "required-stream",
  ]);
  for (const [id, [sample]] of Object.entries(raw)) {
    assert.ok(sample.load.requests > 0, id);
    assert.equal(sample.load.errors, 0, id);
    assert.ok(sample.cpuMicrosPerRequest > 0, id);
  }
  for (
    const id of [
      "stream-vs-proxy",
      "plain-vs-proxy",
      "inference-vs-hono",
      "traced-vs-hono",
      "ledger-cost",
      "ledger-cost-gateway",
    ]
  ) {
    const figure = report.targets?.[id as keyof typeof report.targets];
    assert.ok(figure && figure.value > 0, `${id}: ${JSON.stringify(figure)}`);
  }
  // The required work's ratios: to each bare floor, and this server's to it.
  for (
    const what of [
      "streamed chat, required work only ÷ bare proxy",
      "plain chat, required work only ÷ bare proxy",
      "/v1/inference, required work only ÷ bare Hono",
      "streamed chat, gateway ÷ required work only",
      "plain chat, gateway ÷ required work only",
      "/v1/inference, default settings ÷ required work only",
    ]
  ) {
    assert.match(report.headline[`${what}, req/s`] ?? "", /^\d+\.\d\d× \(by CPU per request/, what);
  }
});

Deno.test("smoke: the gc scenario measures throughput and p99 for each young-generation setting", async () => {
  const report = await smoke("gc");
  const raw = report.raw as Record<string, { max: LoadSample; fixed: LoadSample }[]>;
  assert.deepEqual(Object.keys(raw).sort(), ["inference/semi-4", "inference/shipped"]);
  for (const [id, [sample]] of Object.entries(raw)) {
    assert.ok(sample.max.requests > 0 && sample.fixed.requests > 0, id);
    assert.equal(sample.max.errors + sample.fixed.errors, 0, id);
  }
  assert.equal(report.tables[0].rows.length, 2);
});

Deno.test("the targets table lists every target and names the scenario of one that did not run", () => {
  const markdown = targetsMarkdown([{
    id: "floor",
    title: "floor",
    startedAt: "",
    loadBefore: [0, 0, 0],
    loadAfter: [0, 0, 0],
    tables: [],
    headline: {},
    notes: [],
    raw: {},
    targets: { "plain-vs-proxy": { value: 0.8, text: "0.80×" } },
  }], false);
  const rows = markdown.split("\n").filter((l) => /^\| (?!what |--)/.test(l));
  assert.equal(rows.length, TARGETS.length);
  assert.equal(TARGETS.length, 9);
  assert.match(
    markdown,
    /plain chat through the gateway with the SQLite ledger on ÷ with it off \(requests\/s\) \| not measured \(scenario floor\)/,
  );
  assert.match(
    markdown,
    /plain chat, gateway ÷ bare pass-through proxy \| \*\*0\.80×\*\* \| ≥ 0\.7× — met/,
  );
  assert.match(
    markdown,
    /`\/metrics` render with 10,000 series \| not measured \(scenario metrics\)/,
  );
});
