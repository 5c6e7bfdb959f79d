/**
 * The collector down, and blackholed, for 60 s under a steady load against the real server:
 * every request still succeeds, latency stays in its normal band, the spans of the outage are
 * dropped or buffered within a bound (the server's memory does not grow with them), and export
 * resumes when the collector returns. Each test prints its figures.
 *
 * Both span pipelines run at once (src/telemetry/otel.ts): Deno's built-in exporter and the
 * OpenTelemetry JS SDK's batch exporter, each in its own server. Latency is judged against a
 * control per pipeline: a server under the same load at the same moments whose collector never
 * fails. On a shared CI machine the tail moves with whatever else runs, and the control sees the
 * same noise; the figures before the outage are reported beside it.
 */
import assert from "node:assert/strict";
import { type RunningServer, startOtlpReceiver, startServer } from "../helpers/server.ts";
import { eventually, within } from "../helpers/poll.ts";
import { parseExposition, total } from "../helpers/prom.ts";
import { type LinkMode, openCollectorLink } from "./faults_collector_link.ts";

const RATE_PER_SECOND = 40;
const BASELINE_MS = 10_000;
const OUTAGE_MS = 60_000;
const RECOVERY_DEADLINE_MS = 40_000;

type Phase = "before" | "during" | "after";
const PHASE_DIGIT: Record<Phase, string> = { before: "b", during: "d", after: "e" };

interface Sample {
  readonly phase: Phase;
  readonly traceId: string;
  readonly status: number | "network_error";
  readonly latencyMs: number;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function residentBytes(url: string): Promise<number> {
  const m = parseExposition(await (await fetch(`${url}/metrics`)).text());
  return total(m, "process_resident_memory_bytes");
}

/** The two span pipelines and the settings that select each (an OTLP endpoint is always set). */
const PIPELINES = { deno: { OTEL_DENO: "true" }, sdk: {} } as const;
type Pipeline = keyof typeof PIPELINES;
/** The second hex digit of every trace id: which pipeline's server the request went to. */
const PIPELINE_DIGIT: Record<Pipeline, string> = { deno: "0", sdk: "1" };

/** A server, the pipeline it exports with, and the requests sent to it. */
interface Target {
  readonly pipeline: Pipeline;
  readonly faulted: boolean;
  readonly server: RunningServer;
  readonly samples: Sample[];
}

async function startTarget(pipeline: Pipeline, faulted: boolean, endpoint: string) {
  const server = await startServer({
    ...PIPELINES[pipeline],
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
  });
  assert.ok(server.logs.some((l) => l.includes(`"traces":"${pipeline}"`)), pipeline);
  return { pipeline, faulted, server, samples: [] as Sample[] };
}

function send(target: Target, phase: Phase, n: number): Promise<void> {
  const traceId = PHASE_DIGIT[phase] + PIPELINE_DIGIT[target.pipeline] +
    n.toString(16).padStart(30, "0");
  const started = performance.now();
  const record = (status: Sample["status"]) => {
    target.samples.push({ phase, traceId, status, latencyMs: performance.now() - started });
  };
  return fetch(`${target.server.url}/v1/inference`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      traceparent: `00-${traceId}-${"2".repeat(16)}-01`,
    },
    body: JSON.stringify({ prompt: `request ${n}`, model: "gpt-4o-mini", max_tokens: 16 }),
  }).then(async (res) => {
    await res.body?.cancel();
    record(res.status);
  }, () => record("network_error"));
}

function latencyOf(samples: Sample[], phase: Phase) {
  const all = samples.filter((s) => s.phase === phase);
  const ok = all.filter((s) => s.status === 200);
  const latencies = ok.map((s) => s.latencyMs);
  return { sent: all.length, ok, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function outageUnderLoad(outage: Exclude<LinkMode, "up">): Promise<void> {
  const receiver = startOtlpReceiver();
  const controlReceiver = startOtlpReceiver();
  const link = openCollectorLink(Number(new URL(receiver.url).port));
  const targets: Target[] = [];
  const pending = new Set<Promise<void>>();
  let stopLoad = false;
  try {
    for (const pipeline of ["deno", "sdk"] as const) {
      targets.push(await startTarget(pipeline, true, link.url));
      targets.push(await startTarget(pipeline, false, controlReceiver.url));
    }
    let phase: Phase = "before";
    // Open-loop load: a request to each server every 1/RATE s, whatever the answers do.
    const load = (async () => {
      const interval = 1000 / RATE_PER_SECOND;
      let due = performance.now();
      for (let n = 0; !stopLoad; n++) {
        for (const target of targets) {
          const request = send(target, phase, n);
          pending.add(request);
          request.finally(() => pending.delete(request));
        }
        due += interval;
        await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
      }
    })();

    const faulted = targets.filter((t) => t.faulted);
    await new Promise((r) => setTimeout(r, BASELINE_MS));
    const rssBefore = await Promise.all(faulted.map((t) => residentBytes(t.server.url)));
    phase = "during";
    await link.set(outage);
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    const rssDuring = await Promise.all(faulted.map((t) => residentBytes(t.server.url)));
    phase = "after";
    await link.set("up");
    const returnedAt = performance.now();
    const resumeSeconds: Record<string, string> = {};
    await Promise.all(faulted.map(async (t) => {
      const prefix = PHASE_DIGIT.after + PIPELINE_DIGIT[t.pipeline];
      await eventually(
        `a ${t.pipeline} span of a request sent after the collector returned`,
        within(RECOVERY_DEADLINE_MS),
        () => receiver.spans.some((s) => s.traceId.startsWith(prefix)),
      );
      resumeSeconds[t.pipeline] = ((performance.now() - returnedAt) / 1000).toFixed(1);
    }));
    stopLoad = true;
    await load;
    await Promise.all([...pending]);

    const received = new Set(receiver.spans.map((s) => s.traceId));
    const ms = (x: number) => `${x.toFixed(1)} ms`;
    const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
    for (const [i, target] of faulted.entries()) {
      const control = targets.find((t) => !t.faulted && t.pipeline === target.pipeline)!;
      const before = latencyOf(target.samples, "before");
      const during = latencyOf(target.samples, "during");
      const controlDuring = latencyOf(control.samples, "during");
      const spansBefore = before.ok.filter((s) => received.has(s.traceId)).length;
      const spansDuring = during.ok.filter((s) => received.has(s.traceId)).length;
      console.log(
        `collector ${outage} for ${OUTAGE_MS / 1000} s at ${RATE_PER_SECOND} req/s, ` +
          `${target.pipeline} exporter:\n` +
          `  before: ${before.ok.length}/${before.sent} ok, p50 ${ms(before.p50)}, p99 ${
            ms(before.p99)
          }, spans ${spansBefore}/${before.ok.length}\n` +
          `  during: ${during.ok.length}/${during.sent} ok, p50 ${ms(during.p50)}, p99 ${
            ms(during.p99)
          }, spans ${spansDuring}/${during.ok.length} (${during.ok.length - spansDuring} lost)\n` +
          `  control during: p50 ${ms(controlDuring.p50)}, p99 ${ms(controlDuring.p99)}\n` +
          `  rss ${mb(rssBefore[i])} → ${mb(rssDuring[i])}; export resumed ${
            resumeSeconds[target.pipeline]
          } s after the collector returned`,
      );
      const what = `${target.pipeline} exporter`;
      // Every request succeeded, before and during the outage.
      for (const f of [before, during]) assert.equal(f.ok.length, f.sent, what);
      assert.ok(during.sent >= (RATE_PER_SECOND * OUTAGE_MS) / 1000 * 0.8, "the load kept up");
      // Latency stayed in its normal band: that of the control at the same moments.
      assert.ok(
        during.p50 <= Math.max(2 * controlDuring.p50, controlDuring.p50 + 5),
        `${what}: p50 ${ms(during.p50)} during vs ${ms(controlDuring.p50)} for the control`,
      );
      assert.ok(
        during.p99 <= Math.max(3 * controlDuring.p99, controlDuring.p99 + 50),
        `${what}: p99 ${ms(during.p99)} during vs ${ms(controlDuring.p99)} for the control`,
      );
      // Export worked before the outage (the last batch may still have been queued when it began).
      assert.ok(spansBefore >= before.ok.length / 2, `${what}: export worked before the outage`);
      // Whatever the exporter kept for later stayed bounded: no memory grew with 60 s of spans.
      assert.ok(rssDuring[i] - rssBefore[i] < 64e6, `${what}: rss grew`);
      const errors = target.server.logs.filter((l) => l.includes('"level":"error"'));
      assert.deepEqual(errors, [], `${what}: the server logged errors`);
    }
  } finally {
    stopLoad = true;
    await Promise.allSettled([...pending]);
    const codes = await Promise.all(targets.map((t) => t.server.stop()));
    await link.close();
    await receiver.stop();
    await controlReceiver.stop();
    assert.deepEqual(codes, targets.map(() => 0));
  }
}

Deno.test("collector down for 60 s under load: requests succeed at normal latency, export resumes", async () => {
  await outageUnderLoad("down");
});

Deno.test("collector blackholed for 60 s under load: requests succeed at normal latency, export resumes", async () => {
  await outageUnderLoad("blackhole");
});
