/**
 * Scenario 1, the ceiling: a bare Hono app on Deno answering the same JSON, against
 * POST /v1/inference with the whole cost path (two token counts, price, budget, metrics with
 * exemplars, one span exported to a real OTLP receiver) on the simulated model with zero latency.
 *
 * Every contender runs under the same closed-loop load (wrk, one thread, 16 connections), one
 * after another in a rotated order, for several rounds. Throughput is the headline; CPU time per
 * request of the server process (all its threads, the span exporter's included) is reported beside
 * it because it is far less sensitive to other work on a shared machine.
 *
 * The full run adds the tracing comparison behind the shipped choice: no export, Deno's built-in
 * exporter, the JS SDK's batch processor, each with every request traced and with the default
 * ratio sampler, and the bare app with Deno's automatic HTTP instrumentation on.
 */
import type { BenchContext, Scenario, Table } from "../lib/context.ts";
import { percent } from "../lib/context.ts";
import { type Collector, startCollector } from "../lib/collector.ts";
import { assertClean, type LoadResult, maxThroughput, type Target } from "../lib/load.ts";
import { measureCpu } from "../lib/processes.ts";
import { type RunningServer, startApp, startBenchServer } from "../lib/servers.ts";
import { formatSummary, median, rotation, summarize } from "../lib/stats.ts";
import { summarizeProfile } from "../profile_summary.ts";
import { SHIPPED_TRACING, TRACING_VARIANTS, type TracingSetup } from "./tracing.ts";

/** The request every contender answers. */
export const INFERENCE_BODY = JSON.stringify({
  prompt: "Explain transformers in 3 sentences",
  model: "gpt-4o-mini",
  tenant: "team-search",
});

interface Contender {
  readonly id: string;
  readonly label: string;
  readonly bare: boolean;
  readonly tracing?: TracingSetup;
  /** Part of the smoke run. */
  readonly smoke: boolean;
}

function contenders(smoke: boolean): Contender[] {
  const list: Contender[] = [
    { id: "ceiling", label: "bare Hono (ceiling)", bare: true, smoke: true },
    {
      id: "shipped",
      label: `full path, shipped default (${SHIPPED_TRACING.label})`,
      bare: false,
      tracing: SHIPPED_TRACING,
      smoke: true,
    },
    ...TRACING_VARIANTS.map((t) => ({
      id: t.id,
      label: `full path, ${t.label}`,
      bare: false,
      tracing: t,
      smoke: false,
    })),
    {
      id: "ceiling-auto-http",
      label: "bare Hono with Deno's automatic HTTP spans (OTEL_DENO=true)",
      bare: true,
      tracing: {
        id: "auto-http",
        label: "OTEL_DENO=true",
        env: { OTEL_DENO: "true", OTEL_DENO_METRICS: "false", OTEL_DENO_CONSOLE: "ignore" },
        exports: true,
      },
      smoke: false,
    },
  ];
  return smoke ? list.filter((c) => c.smoke) : list;
}

interface Sample {
  readonly load: LoadResult;
  readonly serverCores: number;
  readonly collectorCores?: number;
  readonly cpuMicrosPerRequest: number;
  readonly spansPerRequest?: number;
}

async function start(
  ctx: BenchContext,
  c: Contender,
  collector: Collector,
): Promise<RunningServer> {
  const env: Record<string, string> = { ...(c.tracing?.env ?? {}) };
  if (c.tracing?.exports) env.OTEL_EXPORTER_OTLP_ENDPOINT = collector.endpoint;
  if (c.bare) {
    return await startBenchServer(ctx, c.id, "scripts/bench/servers/bare_hono.ts", env);
  }
  return await startApp(ctx, c.id, env, { profile: ctx.profile === c.id, readyPath: "/health" });
}

async function measure(
  ctx: BenchContext,
  server: RunningServer,
  collector: Collector,
  seconds: number,
): Promise<Sample> {
  const target: Target = {
    url: `${server.url}/v1/inference`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: INFERENCE_BODY,
  };
  const spansBefore = await collector.acceptedSpans();
  const { result, cpu } = await measureCpu(
    [server.process, collector.process],
    () =>
      maxThroughput(ctx.tools, target, {
        connections: 16,
        seconds,
        cpus: ctx.cpus.load,
        workDir: ctx.workDir,
      }),
  );
  assertClean(server.name, result, server.process.logPath);
  const serverCores = cpu[server.process.name] ?? NaN;
  // Spans arrive in batches, so this count is off by at most a batch at either end: close
  // enough to tell 0, 0.1, 1 and 2 spans per request apart.
  const spansAfter = await collector.acceptedSpans();
  return {
    load: result,
    serverCores,
    collectorCores: cpu[collector.process.name],
    cpuMicrosPerRequest: (serverCores * result.seconds * 1e6) / result.requests,
    spansPerRequest: spansBefore !== undefined && spansAfter !== undefined
      ? (spansAfter - spansBefore) / result.requests
      : undefined,
  };
}

/** Scenario 1. */
export const ceiling: Scenario = {
  id: "ceiling",
  title: "1. Ceiling: bare Hono vs the full cost path",
  async run(ctx) {
    const list = contenders(ctx.smoke);
    const collector = await startCollector(ctx.root, ctx.workDir, ctx.cpus.load);
    const servers = new Map<string, RunningServer>();
    const samples = new Map<string, Sample[]>(list.map((c) => [c.id, []]));
    const shares = new Map<string, number[]>(list.map((c) => [c.id, []]));
    const notes: string[] = [];
    try {
      for (const c of list) {
        const server = await start(ctx, c, collector);
        servers.set(c.id, server);
        ctx.log(`  ${c.id} ready in ${Math.round(server.readyMs)} ms`);
        if (!ctx.smoke) await measure(ctx, server, collector, 2); // warm-up: JIT, connections
      }
      for (let round = 0; round < ctx.rounds; round++) {
        const perRound = new Map<string, Sample>();
        for (const c of rotation(list, round)) {
          const sample = await measure(ctx, servers.get(c.id)!, collector, ctx.seconds);
          samples.get(c.id)!.push(sample);
          perRound.set(c.id, sample);
          ctx.log(
            `  round ${round + 1} ${c.id}: ${Math.round(sample.load.requestsPerSecond)} req/s, ${
              sample.cpuMicrosPerRequest.toFixed(1)
            } µs CPU/req, load tool ${sample.load.toolCpu.toFixed(2)} cores`,
          );
        }
        const base = perRound.get("ceiling")!.load.requestsPerSecond;
        for (const [id, s] of perRound) shares.get(id)!.push(s.load.requestsPerSecond / base);
      }
      if (collector.kind === "otlp-sink") {
        notes.push("Spans went to the minimal OTLP sink: the native collector is not built.");
      } else {
        notes.push(
          "Spans went to the native OpenTelemetry Collector (scripts/install-stack.sh): OTLP/HTTP " +
            "receiver → batch → debug exporter; its CPU is listed beside each figure.",
        );
      }
    } finally {
      for (const server of servers.values()) await server.process.stop();
      await collector.stop();
    }

    const ceilingCpu = median(samples.get("ceiling")!.map((s) => s.cpuMicrosPerRequest));
    const rows = list.map((c) => {
      const s = samples.get(c.id)!;
      const cpuPerReq = median(s.map((x) => x.cpuMicrosPerRequest));
      const spans = s.map((x) => x.spansPerRequest).filter((x): x is number => x !== undefined);
      const saturated = s.filter((x) => x.load.saturated).length;
      return [
        c.label,
        formatSummary(summarize(s.map((x) => x.load.requestsPerSecond))),
        percent(median(shares.get(c.id)!)),
        cpuPerReq.toFixed(1),
        percent(ceilingCpu / cpuPerReq),
        spans.length ? median(spans).toFixed(2) : "–",
        median(s.map((x) => x.serverCores)).toFixed(2),
        median(s.map((x) => x.collectorCores ?? NaN)).toFixed(2),
        `${median(s.map((x) => x.load.toolCpu)).toFixed(2)}${
          saturated ? ` (saturated ${saturated}/${s.length})` : ""
        }`,
      ];
    });
    const table: Table = {
      headers: [
        "contender",
        "req/s median (min–max)",
        "share of ceiling (req/s)",
        "server CPU µs/req",
        "share of ceiling (CPU)",
        "spans exported/req",
        "server cores",
        "collector cores",
        "load tool cores",
      ],
      rows,
    };
    const headline: Record<string, string> = {
      "full path ÷ ceiling, shipped default (every request traced), req/s": percent(
        median(shares.get("shipped")!),
      ),
      "full path ÷ ceiling, shipped default, CPU per request": percent(
        ceilingCpu / median(samples.get("shipped")!.map((s) => s.cpuMicrosPerRequest)),
      ),
    };
    for (const id of ["sdk-ratio", "deno", "no-export"]) {
      if (!shares.has(id)) continue;
      const label = list.find((c) => c.id === id)!.label;
      headline[`${label} ÷ ceiling, req/s`] = percent(median(shares.get(id)!));
    }
    const tables = [table];
    if (ctx.profile && servers.get(ctx.profile)?.profileDir) {
      const profiled = servers.get(ctx.profile)!;
      tables.push(await profileTable(profiled.profileDir!, profiled.readyMs));
    }
    return {
      tables,
      headline,
      notes,
      raw: Object.fromEntries([...samples].map(([id, s]) => [id, s])),
    };
  },
};

/**
 * The top of every CPU profile in `dir` as a table (self and inclusive time per function),
 * leaving out the first `skipMs` (the server's start-up).
 */
export async function profileTable(dir: string, skipMs = 0): Promise<Table> {
  const rows: string[][] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".cpuprofile")) continue;
    const profile = JSON.parse(await Deno.readTextFile(`${dir}/${entry.name}`));
    for (const c of summarizeProfile(profile, skipMs).slice(0, 25)) {
      rows.push([c.name, c.selfPercent.toFixed(1), c.totalPercent.toFixed(1)]);
    }
  }
  return {
    title: `CPU profile (${dir}), start-up (${Math.round(skipMs)} ms) left out`,
    headers: ["function", "self %", "total %"],
    rows,
  };
}
