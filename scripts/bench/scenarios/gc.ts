/**
 * Scenario 8, garbage collection: the size of V8's young generation (`--max-semi-space-size`)
 * against throughput and tail latency together, on the paths that allocate most — `/v1/inference`
 * without and with span export, and this gateway's plain and streamed chat. A larger semi-space
 * means fewer young-generation collections but more to copy in each; the shipped setting (in
 * deno.json's start task, which every contender starts from) is the one that wins here.
 *
 * Per path and round, every setting in a rotated order: wrk (16 connections) for requests/s and
 * server CPU per request, then vegeta at a fixed rate for p50/p99. Nothing is pinned, as in the
 * floor scenario (V8's collector threads may use the second core, as in production).
 */
import type { BenchContext, Scenario, Table } from "../lib/context.ts";
import { ratio } from "../lib/context.ts";
import { type Collector, startCollector } from "../lib/collector.ts";
import { writeProvidersFile } from "../lib/gateways.ts";
import {
  assertClean,
  fixedRate,
  type LoadResult,
  maxThroughput,
  type Target,
} from "../lib/load.ts";
import { measureCpu } from "../lib/processes.ts";
import { type RunningServer, startApp, startBenchServer } from "../lib/servers.ts";
import { formatSummary, median, rotation, summarize } from "../lib/stats.ts";
import { INFERENCE_BODY } from "./ceiling.ts";
import { chatBody } from "./floor.ts";

/** The settings compared; `start task` is deno.json's as it is. */
const SETTINGS: readonly { id: string; label: string; v8Flags: string[] }[] = [
  { id: "shipped", label: "start task as shipped", v8Flags: [] },
  ...[4, 16, 32, 64].map((mb) => ({
    id: `semi-${mb}`,
    label: `--max-semi-space-size=${mb}`,
    v8Flags: [`--max-semi-space-size=${mb}`],
  })),
];

type AppKind = "inference" | "inference-traced" | "gateway";

interface Path {
  readonly id: string;
  readonly label: string;
  readonly app: AppKind;
  readonly request: "inference" | "chat" | "chat-stream";
  /** Requests per second of the latency run (well under every setting's capacity). */
  readonly rate: number;
}

const PATHS: readonly Path[] = [
  {
    id: "inference",
    label: "/v1/inference, default settings",
    app: "inference",
    request: "inference",
    rate: 1000,
  },
  {
    id: "inference-traced",
    label: "/v1/inference, every request traced and exported",
    app: "inference-traced",
    request: "inference",
    rate: 1000,
  },
  { id: "gateway", label: "gateway, plain chat", app: "gateway", request: "chat", rate: 1000 },
  {
    id: "gateway-stream",
    label: "gateway, streamed chat (16 chunks + usage)",
    app: "gateway",
    request: "chat-stream",
    rate: 200,
  },
];

interface Sample {
  readonly max: LoadResult;
  readonly fixed: LoadResult;
  readonly cpuMicrosPerRequest: number;
}

function target(path: Path, server: RunningServer): Target {
  const json = { "content-type": "application/json" };
  if (path.request === "inference") {
    return {
      url: `${server.url}/v1/inference`,
      method: "POST",
      headers: json,
      body: INFERENCE_BODY,
    };
  }
  return {
    url: `${server.url}/v1/chat/completions`,
    method: "POST",
    headers: { ...json, "x-tenant-id": "team-search" },
    body: chatBody(path.request === "chat-stream"),
  };
}

async function measure(
  ctx: BenchContext,
  server: RunningServer,
  path: Path,
  seconds: number,
): Promise<Sample> {
  const t = target(path, server);
  const opts = { seconds, cpus: undefined, workDir: ctx.workDir };
  const { result: max, cpu } = await measureCpu(
    [server.process],
    () => maxThroughput(ctx.tools, t, { ...opts, connections: 16 }),
  );
  assertClean(`${server.name} ${path.id} (max)`, max, server.process.logPath);
  const fixed = await fixedRate(ctx.tools, t, {
    ...opts,
    seconds: ctx.smoke ? 0.5 : seconds,
    rate: ctx.smoke ? 50 : path.rate,
  });
  assertClean(`${server.name} ${path.id} (fixed rate)`, fixed, server.process.logPath);
  const cores = cpu[server.process.name] ?? NaN;
  return { max, fixed, cpuMicrosPerRequest: (cores * max.seconds * 1e6) / max.requests };
}

/** Scenario 8. */
export const gcSettings: Scenario = {
  id: "gc",
  title: "8. Garbage collection: V8's young-generation size against throughput and p99",
  async run(ctx) {
    const settings = ctx.smoke ? SETTINGS.slice(0, 2) : SETTINGS;
    const paths = ctx.smoke ? PATHS.filter((p) => p.app === "inference") : PATHS;
    const started: RunningServer[] = [];
    let collector: Collector | undefined;
    const servers = new Map<string, RunningServer>();
    const key = (setting: string, app: AppKind) => `${setting}/${app}`;
    const samples = new Map<string, Sample[]>();
    try {
      const apps = new Set(paths.map((p) => p.app));
      const env: Partial<Record<AppKind, Record<string, string>>> = { inference: {} };
      if (apps.has("inference-traced")) {
        collector = await startCollector(ctx.root, ctx.workDir, undefined);
        env["inference-traced"] = { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint };
      }
      if (apps.has("gateway")) {
        const upstream = await startBenchServer(
          ctx,
          "gc-upstream",
          "scripts/bench/servers/fake_openai.ts",
          {},
          { cpus: undefined },
        );
        started.push(upstream);
        env.gateway = { PROVIDERS_FILE: await writeProvidersFile(ctx, upstream.url) };
      }
      for (const s of settings) {
        for (const app of apps) {
          const server = await startApp(ctx, `gc-${s.id}-${app}`, env[app]!, {
            cpus: undefined,
            v8Flags: s.v8Flags,
            readyPath: "/health",
          });
          started.push(server);
          servers.set(key(s.id, app), server);
        }
      }
      for (const path of paths) {
        if (!ctx.smoke) {
          for (const s of settings) await measure(ctx, servers.get(key(s.id, path.app))!, path, 2);
        }
        for (let round = 0; round < ctx.floorRounds; round++) {
          for (const s of rotation(settings, round)) {
            const sample = await measure(
              ctx,
              servers.get(key(s.id, path.app))!,
              path,
              ctx.floorSeconds,
            );
            const k = `${path.id}/${s.id}`;
            samples.set(k, [...(samples.get(k) ?? []), sample]);
            ctx.log(
              `  round ${round + 1} ${path.id} ${s.id}: ${
                Math.round(sample.max.requestsPerSecond)
              } req/s, ${sample.cpuMicrosPerRequest.toFixed(1)} µs CPU/req, p99 ${
                sample.fixed.latencyMs?.p99.toFixed(2) ?? "–"
              } ms at ${Math.round(sample.fixed.requestsPerSecond)}/s`,
            );
          }
        }
      }
    } finally {
      for (const s of started.reverse()) await s.process.stop();
      await collector?.stop();
    }

    const tables: Table[] = paths.map((path) => {
      const base = samples.get(`${path.id}/${settings[0].id}`)!;
      return {
        title: `${path.label}: wrk c16, then ${ctx.smoke ? 50 : path.rate} req/s (vegeta)`,
        headers: [
          "setting",
          "req/s median (min–max)",
          "÷ shipped (same round)",
          "server CPU µs/req",
          "p50 ms",
          "p99 ms median (min–max)",
        ],
        rows: settings.map((s) => {
          const x = samples.get(`${path.id}/${s.id}`)!;
          const p99 = x.map((v) => v.fixed.latencyMs?.p99 ?? NaN);
          return [
            s.label,
            formatSummary(summarize(x.map((v) => v.max.requestsPerSecond))),
            ratio(median(x.map((v, i) => v.max.requestsPerSecond / base[i].max.requestsPerSecond))),
            formatSummary(summarize(x.map((v) => v.cpuMicrosPerRequest)), 1),
            median(x.map((v) => v.fixed.latencyMs?.p50 ?? NaN)).toFixed(2),
            formatSummary(summarize(p99), 2),
          ];
        }),
      };
    });
    return {
      tables,
      headline: {},
      notes: [
        `wrk -t1 -c16 -d${ctx.floorSeconds}s and a fixed-rate run per setting and path, ` +
        `${ctx.floorRounds} round(s); nothing pinned; the fake upstream and the collector share ` +
        "the machine.",
      ],
      raw: Object.fromEntries(samples),
    };
  },
};
