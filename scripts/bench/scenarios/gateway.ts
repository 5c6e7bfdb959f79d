/**
 * Scenario 2, gateway overhead: the same fake OpenAI-compatible upstream hit directly, through
 * the bare pass-through proxy (what any Deno server in between adds on this machine), through this
 * gateway (non-streaming and streaming, cost tracking and tracing on) and through Portkey.
 *
 * - Latency at one client: oha, one connection at a fixed rate, each latency measured from the
 *   request's due time (`--latency-correction`), so nothing is hidden by coordinated omission.
 * - Latency at 1,000 requests/s: vegeta's open model (requests leave on schedule whatever the
 *   answers do).
 * - Maximum throughput: wrk, 16 connections.
 * Added latency is the contender's percentile minus the direct upstream's, in the same round.
 */
import type { BenchContext, Scenario, Table } from "../lib/context.ts";
import { ratio, signedMs } from "../lib/context.ts";
import { chatTarget, type GatewayKind, type Gateways, startGateways } from "../lib/gateways.ts";
import { assertClean, fixedRate, type LoadResult, maxThroughput, oneClient } from "../lib/load.ts";
import { measureCpu } from "../lib/processes.ts";
import { formatSummary, median, rotation, summarize } from "../lib/stats.ts";
import type { TargetFigure, TargetId } from "../lib/targets.ts";

interface Contender {
  readonly id: string;
  readonly label: string;
  readonly kind: GatewayKind;
  readonly stream: boolean;
}

const CONTENDERS: readonly Contender[] = [
  { id: "direct", label: "upstream direct", kind: "direct", stream: false },
  { id: "proxy", label: "bare pass-through proxy", kind: "proxy", stream: false },
  { id: "gateway", label: "this gateway", kind: "gateway", stream: false },
  { id: "portkey", label: "Portkey", kind: "portkey", stream: false },
  { id: "direct-stream", label: "upstream direct, streaming", kind: "direct", stream: true },
  { id: "proxy-stream", label: "bare pass-through proxy, streaming", kind: "proxy", stream: true },
  { id: "gateway-stream", label: "this gateway, streaming", kind: "gateway", stream: true },
  { id: "portkey-stream", label: "Portkey, streaming", kind: "portkey", stream: true },
];

/** Tokens per answer in the latency and throughput runs. */
const ANSWER_TOKENS = 16;

type Mode = "one-client" | "fixed-rate" | "max";

interface Sample {
  readonly load: LoadResult;
  /** Average cores per process during the run. */
  readonly cpu: Record<string, number>;
}

async function run(
  ctx: BenchContext,
  g: Gateways,
  c: Contender,
  mode: Mode,
  rates: { oneClient: number; fixed: number },
): Promise<Sample> {
  const target = chatTarget(c.kind, g, { stream: c.stream, maxTokens: ANSWER_TOKENS });
  const procs = [g.upstream.process, g.proxy.process, g.gateway.process, g.collector.process];
  if (g.portkey) procs.push(g.portkey.process);
  // wrk counts whole seconds; the rate-based tools take half a second in a smoke run.
  const seconds = ctx.smoke && mode !== "max" ? 0.5 : ctx.seconds;
  const opts = { seconds, cpus: ctx.cpus.load, workDir: ctx.workDir };
  const { result, cpu } = await measureCpu(procs, () => {
    switch (mode) {
      case "one-client":
        return oneClient(ctx.tools, target, { ...opts, rate: rates.oneClient });
      case "fixed-rate":
        return fixedRate(ctx.tools, target, { ...opts, rate: rates.fixed });
      case "max":
        return maxThroughput(ctx.tools, target, { ...opts, connections: 16 });
    }
  });
  // At the fixed rate a contender may be over its capacity: its refusals are a result, shown in
  // the table; anywhere else a failed request is a broken benchmark.
  if (mode !== "fixed-rate" || result.requests === 0) assertClean(`${c.id} (${mode})`, result);
  return { load: result, cpu };
}

function serverName(c: Contender): string {
  return c.kind === "direct" ? "fake-upstream" : c.kind;
}

/** Scenario 2. */
export const gatewayOverhead: Scenario = {
  id: "gateway",
  title: "2. Gateway overhead: upstream direct vs the bare proxy vs this gateway vs Portkey",
  async run(ctx) {
    const rates = ctx.smoke ? { oneClient: 50, fixed: 100 } : { oneClient: 200, fixed: 1000 };
    const g = await startGateways(ctx);
    const notes: string[] = [];
    const contenders = CONTENDERS.filter((c) => {
      if (c.kind !== "portkey") return true;
      if (g.portkeyProblems.start) return false;
      return !(c.stream && g.portkeyProblems.stream);
    });
    if (g.portkeyProblems.start) notes.push(`Portkey did not run: ${g.portkeyProblems.start}.`);
    if (g.portkeyProblems.stream) {
      notes.push(
        `Portkey could not stream from the fake upstream (${g.portkeyProblems.stream}), so it ` +
          "has no streaming figures.",
      );
    }
    const modes: Mode[] = ["one-client", "fixed-rate", "max"];
    const samples = new Map<string, Sample[]>();
    const key = (c: Contender, m: Mode) => `${c.id}/${m}`;
    try {
      // Warm-up: JIT, connection pools, upstream answer caches.
      for (const c of ctx.smoke ? [] : contenders) {
        const target = chatTarget(c.kind, g, { stream: c.stream, maxTokens: ANSWER_TOKENS });
        await fixedRate(ctx.tools, target, {
          rate: ctx.smoke ? 20 : 500,
          seconds: 1,
          cpus: ctx.cpus.load,
          workDir: ctx.workDir,
        });
      }
      for (let round = 0; round < ctx.rounds; round++) {
        for (const mode of modes) {
          for (const c of rotation(contenders, round)) {
            const s = await run(ctx, g, c, mode, rates);
            if (!samples.has(key(c, mode))) samples.set(key(c, mode), []);
            samples.get(key(c, mode))!.push(s);
            ctx.log(
              `  round ${round + 1} ${mode} ${c.id}: ${
                Math.round(s.load.requestsPerSecond)
              } req/s` +
                (s.load.latencyMs
                  ? `, p50 ${s.load.latencyMs.p50.toFixed(3)} ms, p99 ${
                    s.load.latencyMs.p99.toFixed(3)
                  } ms`
                  : ""),
            );
          }
        }
      }
    } finally {
      await g.stop();
    }

    const tables: Table[] = [];
    const headline: Record<string, string> = {};
    const targets: Partial<Record<TargetId, TargetFigure>> = {};
    for (const mode of ["one-client", "fixed-rate"] as const) {
      const rows: string[][] = [];
      for (const c of contenders) {
        const s = samples.get(key(c, mode));
        if (!s) continue;
        const base = samples.get(`${c.stream ? "direct-stream" : "direct"}/${mode}`)!;
        const added = (q: "p50" | "p99") =>
          median(s.map((x, i) => x.load.latencyMs![q] - base[i].load.latencyMs![q]));
        const sat = s.filter((x) => x.load.saturated).length;
        const failed = s.reduce((n, x) => n + x.load.errors, 0);
        rows.push([
          failed ? `${c.label} (${failed} refused or failed: over capacity)` : c.label,
          formatSummary(summarize(s.map((x) => x.load.latencyMs!.p50)), 3),
          formatSummary(summarize(s.map((x) => x.load.latencyMs!.p99)), 3),
          c.kind === "direct" ? "–" : `${added("p50").toFixed(3)} / ${added("p99").toFixed(3)}`,
          median(s.map((x) => x.cpu[serverName(c)] ?? NaN)).toFixed(2),
          median(s.map((x) => x.cpu["fake-upstream"] ?? NaN)).toFixed(2),
          `${median(s.map((x) => x.load.toolCpu)).toFixed(2)}${
            sat ? ` (saturated or behind rate ${sat}/${s.length})` : ""
          }`,
        ]);
        if (c.id === "gateway" && mode === "fixed-rate") {
          const p99 = added("p99");
          // What a server in between adds at all on this machine, in the same rounds.
          const proxy = samples.get(`proxy/${mode}`);
          const proxyP99 = proxy
            ? median(proxy.map((x, i) => x.load.latencyMs!.p99 - base[i].load.latencyMs!.p99))
            : undefined;
          targets["gateway-p99-1000"] = {
            value: p99,
            text: `${signedMs(p99)}${rates.fixed === 1000 ? "" : ` (at ${rates.fixed} req/s)`}${
              proxyP99 === undefined ? "" : `; the bare proxy ${signedMs(proxyP99)}`
            }`,
          };
        }
        if (c.kind === "gateway" || c.kind === "proxy") {
          const label = mode === "one-client"
            ? `one client at ${rates.oneClient} req/s`
            : `${rates.fixed} req/s`;
          headline[`added latency p50 / p99, ${c.label}, ${label}`] = `${
            added("p50").toFixed(3)
          } ms / ${added("p99").toFixed(3)} ms`;
        }
      }
      tables.push({
        title: mode === "one-client"
          ? `Latency, one client at ${rates.oneClient} req/s (oha, latency-corrected)`
          : `Latency at ${rates.fixed} req/s (vegeta, open model)`,
        headers: [
          "contender",
          "p50 ms",
          "p99 ms",
          "added p50 / p99 ms",
          "server cores",
          "upstream cores",
          "load tool cores",
        ],
        rows,
      });
    }
    const maxRows: string[][] = [];
    const maxOf = (id: string) =>
      samples.get(`${id}/max`)?.map((x) => x.load.requestsPerSecond) ?? [];
    for (const c of contenders) {
      const s = samples.get(key(c, "max"));
      if (!s) continue;
      const sat = s.filter((x) => x.load.saturated).length;
      maxRows.push([
        c.label,
        formatSummary(summarize(s.map((x) => x.load.requestsPerSecond))),
        median(s.map((x) => x.cpu[serverName(c)] ?? NaN)).toFixed(2),
        median(s.map((x) => x.cpu["fake-upstream"] ?? NaN)).toFixed(2),
        `${median(s.map((x) => x.load.toolCpu)).toFixed(2)}${sat ? ` (saturated ${sat})` : ""}`,
      ]);
    }
    tables.push({
      title: "Maximum throughput (wrk, 16 connections)",
      headers: [
        "contender",
        "req/s median (min–max)",
        "server cores",
        "upstream cores",
        "wrk cores",
      ],
      rows: maxRows,
    });
    const ours = maxOf("gateway");
    const theirs = maxOf("portkey");
    if (ours.length && theirs.length) {
      headline["max throughput, this gateway ÷ Portkey (non-streaming)"] = ratio(
        median(ours.map((v, i) => v / theirs[i])),
      );
    }
    notes.push(
      `Answers carry ${ANSWER_TOKENS} tokens. This gateway runs the shipped tracing setup with ` +
        `spans exported to ${
          g.collector.kind === "otelcol" ? "the native collector" : "an OTLP sink"
        }.`,
    );
    return {
      tables,
      headline,
      notes,
      targets,
      raw: Object.fromEntries(samples),
    };
  },
};
