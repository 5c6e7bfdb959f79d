/**
 * Scenario 7, distance from the floor: each path of this server against the least a server can do
 * for the same answer, measured with default settings and nothing pinned, as a production machine
 * runs it — wrk with one thread and 16 connections for 4 s per contender, a warm-up, then two
 * rounds (--floor-rounds, --floor-seconds) with the contenders alternating in a rotated order.
 *
 * - `/v1/inference` with default settings (no span export) and with every request traced and
 *   exported to the collector, against the bare Hono app (scripts/bench/servers/bare_hono.ts).
 * - Chat completions through this gateway, plain and streamed (16 chunks, then a usage chunk),
 *   against a bare pass-through proxy (scripts/bench/servers/bare_proxy.ts), both in front of the
 *   same fake upstream.
 *
 * - The required work's floor (scripts/bench/servers/required_work.ts) on all three requests: the
 *   token counts or the upstream's usage, the exact cost, the per-request metric updates and one
 *   SQLite ledger row committed before the response ends, and nothing else. Its ratios to the bare
 *   floors bound what this design can reach; this server's ratios to it are its own overhead.
 *
 * Each ratio pairs figures of the same round; CPU time per request of the server process (from
 * /proc, all its threads) is reported beside requests/s, as it moves less when a neighbour takes
 * a core. `--baseline=<checkout>` also runs this server's contenders from another checkout of the
 * project in the same rounds, so a change is measured before and after under the same load.
 */
import type { BenchContext, Scenario, Table } from "../lib/context.ts";
import { ratio } from "../lib/context.ts";
import { type Collector, startCollector } from "../lib/collector.ts";
import { MODEL, writeProvidersFile } from "../lib/gateways.ts";
import { assertClean, type LoadResult, maxThroughput, type Target } from "../lib/load.ts";
import { type BenchProcess, measureCpu } from "../lib/processes.ts";
import { type RunningServer, startApp, startBenchServer } from "../lib/servers.ts";
import { formatSummary, median, rotation, summarize } from "../lib/stats.ts";
import type { TargetFigure, TargetId } from "../lib/targets.ts";
import { INFERENCE_BODY, profileTable } from "./ceiling.ts";

/** Tokens per chat answer, plain or streamed (one chunk each, then the usage chunk). */
export const FLOOR_TOKENS = 16;

/**
 * The server processes of the scenario (several contenders may share one); this server's own are
 * also started from the --baseline checkout, as `<id>@baseline`.
 */
type ServerId =
  | "hono"
  | "inference"
  | "inference-no-ledger"
  | "inference-traced"
  | "proxy"
  | "gateway"
  | "gateway-no-ledger"
  | "required";
type ServerKey = ServerId | `${ServerId}@baseline`;
const APP_SERVERS: readonly ServerId[] = [
  "inference",
  "inference-no-ledger",
  "inference-traced",
  "gateway",
  "gateway-no-ledger",
];

interface Contender {
  readonly id: string;
  readonly label: string;
  readonly server: ServerKey;
  readonly request: "inference" | "chat" | "chat-stream";
}

/** Every contender, as `--contenders` names them. */
export const FLOOR_CONTENDERS: readonly Contender[] = [
  { id: "hono", label: "bare Hono, /v1/inference", server: "hono", request: "inference" },
  {
    id: "inference",
    label: "this server, /v1/inference, default settings (no span export)",
    server: "inference",
    request: "inference",
  },
  {
    id: "inference-no-ledger",
    label: "this server, /v1/inference, default settings but the ledger off (LEDGER_URL=none)",
    server: "inference-no-ledger",
    request: "inference",
  },
  {
    id: "inference-traced",
    label: "this server, /v1/inference, every request traced and exported",
    server: "inference-traced",
    request: "inference",
  },
  { id: "proxy", label: "bare pass-through proxy, plain chat", server: "proxy", request: "chat" },
  { id: "gateway", label: "this gateway, plain chat", server: "gateway", request: "chat" },
  {
    id: "gateway-no-ledger",
    label: "this gateway, plain chat, the ledger off (LEDGER_URL=none)",
    server: "gateway-no-ledger",
    request: "chat",
  },
  {
    id: "proxy-stream",
    label: `bare pass-through proxy, streamed chat (${FLOOR_TOKENS} chunks + usage)`,
    server: "proxy",
    request: "chat-stream",
  },
  {
    id: "gateway-stream",
    label: `this gateway, streamed chat (${FLOOR_TOKENS} chunks + usage)`,
    server: "gateway",
    request: "chat-stream",
  },
  {
    id: "required-inference",
    label: "required work only (tokens, cost, metrics, ledger row), /v1/inference",
    server: "required",
    request: "inference",
  },
  {
    id: "required-chat",
    label: "required work only (usage, cost, metrics, ledger row), plain chat",
    server: "required",
    request: "chat",
  },
  {
    id: "required-stream",
    label: `required work only, streamed chat (${FLOOR_TOKENS} chunks + usage)`,
    server: "required",
    request: "chat-stream",
  },
];

/** The ratios reported: contender ÷ floor, the targets they feed. */
const RATIOS: readonly { contender: string; floor: string; what: string; target?: TargetId }[] = [
  {
    contender: "gateway-stream",
    floor: "proxy-stream",
    what: "streamed chat, gateway ÷ bare proxy",
    target: "stream-vs-proxy",
  },
  {
    contender: "gateway",
    floor: "proxy",
    what: "plain chat, gateway ÷ bare proxy",
    target: "plain-vs-proxy",
  },
  {
    contender: "inference",
    floor: "hono",
    what: "/v1/inference, default settings ÷ bare Hono",
    target: "inference-vs-hono",
  },
  {
    contender: "inference",
    floor: "inference-no-ledger",
    what: "/v1/inference, ledger on ÷ ledger off",
    target: "ledger-cost",
  },
  {
    contender: "gateway",
    floor: "gateway-no-ledger",
    what: "plain chat through the gateway, ledger on ÷ ledger off",
    target: "ledger-cost-gateway",
  },
  {
    contender: "inference-traced",
    floor: "hono",
    what: "/v1/inference, every request traced ÷ bare Hono",
    target: "traced-vs-hono",
  },
  // What the required work alone reaches, and how far this server is from it.
  {
    contender: "required-stream",
    floor: "proxy-stream",
    what: "streamed chat, required work only ÷ bare proxy",
  },
  {
    contender: "required-chat",
    floor: "proxy",
    what: "plain chat, required work only ÷ bare proxy",
  },
  {
    contender: "required-inference",
    floor: "hono",
    what: "/v1/inference, required work only ÷ bare Hono",
  },
  {
    contender: "gateway-stream",
    floor: "required-stream",
    what: "streamed chat, gateway ÷ required work only",
  },
  {
    contender: "gateway",
    floor: "required-chat",
    what: "plain chat, gateway ÷ required work only",
  },
  {
    contender: "inference",
    floor: "required-inference",
    what: "/v1/inference, default settings ÷ required work only",
  },
];

interface Sample {
  readonly load: LoadResult;
  readonly serverCores: number;
  readonly upstreamCores?: number;
  readonly collectorCores?: number;
  readonly cpuMicrosPerRequest: number;
}

interface Running {
  readonly servers: Map<ServerKey, RunningServer>;
  readonly upstream?: RunningServer;
  readonly collector?: Collector;
}

/** The chat request of the floor's contenders: 16 tokens, streamed with a usage chunk. */
export function chatBody(stream: boolean): string {
  return JSON.stringify({
    model: MODEL,
    messages: [{ role: "user", content: "Explain transformers in 3 sentences" }],
    max_tokens: FLOOR_TOKENS,
    // Both contenders send the usage chunk: the proxy passes the client's request on as is, the
    // gateway asks the upstream for usage anyway and forwards it because the client asked too.
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
}

function target(c: Contender, server: RunningServer): Target {
  const json = { "content-type": "application/json" };
  if (c.request === "inference") {
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
    headers: c.server.startsWith("gateway") ? { ...json, "x-tenant-id": "team-search" } : json,
    body: chatBody(c.request === "chat-stream"),
  };
}

/** Starts the processes the selected contenders need, none of them pinned. */
async function startAll(ctx: BenchContext, list: readonly Contender[]): Promise<Running> {
  const needed = new Set(list.map((c) => c.server));
  const servers = new Map<ServerKey, RunningServer>();
  const unpinned = { cpus: undefined };
  let upstream: RunningServer | undefined;
  let collector: Collector | undefined;
  const running = () => ({ servers, upstream, collector });
  try {
    const needs = (id: ServerId) => needed.has(id) || needed.has(`${id}@baseline`);
    if (needs("proxy") || needs("gateway") || needs("gateway-no-ledger") || needs("required")) {
      upstream = await startBenchServer(
        ctx,
        "floor-upstream",
        "scripts/bench/servers/fake_openai.ts",
        {},
        unpinned,
      );
    }
    if (needs("inference-traced")) {
      collector = await startCollector(ctx.root, ctx.workDir, undefined);
    }
    const app = async (id: ServerId, env: Record<string, string>) => {
      for (const [key, root] of [[id, ctx.root], [`${id}@baseline`, ctx.baseline]] as const) {
        if (!root || !needed.has(key)) continue;
        const name = `floor-${key.replace("@", "-")}`;
        servers.set(
          key,
          await startApp(ctx, name, env, {
            ...unpinned,
            root,
            profile: ctx.profile === name,
            readyPath: "/health",
          }),
        );
      }
    };
    if (needed.has("hono")) {
      servers.set(
        "hono",
        await startBenchServer(
          ctx,
          "floor-hono",
          "scripts/bench/servers/bare_hono.ts",
          {},
          unpinned,
        ),
      );
    }
    await app("inference", {});
    await app("inference-no-ledger", { LEDGER_URL: "none" });
    if (collector) {
      await app("inference-traced", { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint });
    }
    if (needed.has("proxy")) {
      servers.set(
        "proxy",
        await startBenchServer(ctx, "floor-proxy", "scripts/bench/servers/bare_proxy.ts", {
          UPSTREAM_URL: upstream!.url,
        }, unpinned),
      );
    }
    if (needed.has("required")) {
      servers.set(
        "required",
        await startBenchServer(ctx, "floor-required", "scripts/bench/servers/required_work.ts", {
          UPSTREAM_URL: upstream!.url,
          LEDGER_PATH: `${ctx.workDir}/ledger-floor-required.sqlite`,
        }, {
          ...unpinned,
          // The ledger's writer and checkpoint workers, its file, and prom-client's process reads.
          permissions: [
            "--allow-net",
            "--allow-env",
            "--allow-read",
            "--allow-write",
            "--allow-sys",
          ],
        }),
      );
    }
    if (upstream) {
      const providers = await writeProvidersFile(ctx, upstream.url);
      await app("gateway", { PROVIDERS_FILE: providers });
      await app("gateway-no-ledger", { PROVIDERS_FILE: providers, LEDGER_URL: "none" });
    }
    return running();
  } catch (error) {
    await stopAll(running());
    throw error;
  }
}

async function stopAll(r: Running): Promise<void> {
  for (const server of r.servers.values()) await server.process.stop();
  await r.upstream?.process.stop();
  await r.collector?.stop();
}

async function measure(
  ctx: BenchContext,
  r: Running,
  c: Contender,
  seconds: number,
): Promise<Sample> {
  const server = r.servers.get(c.server)!;
  const procs: BenchProcess[] = [server.process];
  if (r.upstream) procs.push(r.upstream.process);
  if (r.collector) procs.push(r.collector.process);
  const { result, cpu } = await measureCpu(
    procs,
    () =>
      maxThroughput(ctx.tools, target(c, server), {
        connections: 16,
        seconds,
        cpus: undefined,
        workDir: ctx.workDir,
      }),
  );
  assertClean(c.id, result, server.process.logPath);
  const serverCores = cpu[server.process.name] ?? NaN;
  return {
    load: result,
    serverCores,
    upstreamCores: r.upstream ? cpu[r.upstream.process.name] : undefined,
    collectorCores: r.collector ? cpu[r.collector.process.name] : undefined,
    cpuMicrosPerRequest: (serverCores * result.seconds * 1e6) / result.requests,
  };
}

/** The contenders asked for, with this server's own also from the --baseline checkout. */
function selected(ctx: BenchContext): Contender[] {
  const all = [...FLOOR_CONTENDERS];
  if (ctx.baseline) {
    for (const c of FLOOR_CONTENDERS) {
      if (!APP_SERVERS.includes(c.server as ServerId)) continue;
      all.push({
        id: `${c.id}@baseline`,
        label: `${c.label} — baseline (${ctx.baseline})`,
        server: `${c.server as ServerId}@baseline`,
        request: c.request,
      });
    }
  }
  if (!ctx.contenders?.length) return all;
  const unknown = ctx.contenders.filter((id) => !all.some((c) => c.id === id));
  if (unknown.length) {
    throw new Error(
      `unknown contender ${unknown.join(", ")} (known: ${all.map((c) => c.id).join(", ")})`,
    );
  }
  return all.filter((c) => ctx.contenders!.includes(c.id));
}

/** Scenario 7. */
export const floor: Scenario = {
  id: "floor",
  title: "7. Distance from the floor: wrk c16, nothing pinned, default settings",
  async run(ctx) {
    const list = selected(ctx);
    const r = await startAll(ctx, list);
    const samples = new Map<string, Sample[]>(list.map((c) => [c.id, []]));
    const tables: Table[] = [];
    try {
      if (!ctx.smoke) {
        for (const c of list) await measure(ctx, r, c, 2); // warm-up: JIT, connections
      }
      for (let round = 0; round < ctx.floorRounds; round++) {
        for (const c of rotation(list, round)) {
          const s = await measure(ctx, r, c, ctx.floorSeconds);
          samples.get(c.id)!.push(s);
          ctx.log(
            `  round ${round + 1} ${c.id}: ${Math.round(s.load.requestsPerSecond)} req/s, ${
              s.cpuMicrosPerRequest.toFixed(1)
            } µs CPU/req (${s.serverCores.toFixed(2)} cores), wrk ${
              s.load.toolCpu.toFixed(2)
            } cores`,
          );
        }
      }
    } finally {
      await stopAll(r);
    }
    const profiled = [...r.servers.values()].find((s) => s.profileDir);
    if (profiled) tables.unshift(await profileTable(profiled.profileDir!, profiled.readyMs));

    const cores = (s: Sample[], f: (x: Sample) => number | undefined) => {
      const v = median(s.map((x) => f(x) ?? NaN));
      return Number.isFinite(v) ? v.toFixed(2) : "–";
    };
    tables.unshift({
      headers: [
        "contender",
        "req/s median (min–max)",
        "server CPU µs/req",
        "server cores",
        "upstream cores",
        "collector cores",
        "wrk cores",
      ],
      rows: list.map((c) => {
        const s = samples.get(c.id)!;
        return [
          c.label,
          formatSummary(summarize(s.map((x) => x.load.requestsPerSecond))),
          formatSummary(summarize(s.map((x) => x.cpuMicrosPerRequest)), 1),
          cores(s, (x) => x.serverCores),
          /^(proxy|gateway)/.test(c.server) ||
            (c.server === "required" && c.request !== "inference")
            ? cores(s, (x) => x.upstreamCores)
            : "–",
          c.server.startsWith("inference-traced") ? cores(s, (x) => x.collectorCores) : "–",
          cores(s, (x) => x.load.toolCpu),
        ];
      }),
    });
    const headline: Record<string, string> = {};
    const targets: Partial<Record<TargetId, TargetFigure>> = {};
    const ratioRows: string[][] = [];
    for (const q of RATIOS) {
      for (const baseline of [false, true]) {
        const ours = samples.get(baseline ? `${q.contender}@baseline` : q.contender);
        const base = samples.get(q.floor);
        if (!ours?.length || !base?.length) continue;
        const throughput = ours.map((s, i) =>
          s.load.requestsPerSecond / base[i].load.requestsPerSecond
        );
        const cpu = ours.map((s, i) => base[i].cpuMicrosPerRequest / s.cpuMicrosPerRequest);
        const value = median(throughput);
        const what = baseline ? `${q.what} — baseline` : q.what;
        headline[`${what}, req/s`] = `${ratio(value)} (by CPU per request ${ratio(median(cpu))})`;
        if (!baseline && q.target) targets[q.target] = { value, text: ratio(value) };
        ratioRows.push([
          what,
          `${ratio(value)} (${throughput.map(ratio).join(", ")})`,
          `${ratio(median(cpu))} (${cpu.map(ratio).join(", ")})`,
        ]);
      }
    }
    if (ratioRows.length) {
      tables.push({
        title: "Ratios, each of one round (median, then every round)",
        headers: ["what", "req/s ratio", "CPU per request ratio (floor ÷ ours)"],
        rows: ratioRows,
      });
    }
    const notes = [
      `wrk -t1 -c16 -d${ctx.floorSeconds}s per contender, ${ctx.floorRounds} round(s)${
        ctx.smoke ? "" : " after a 2 s warm-up each"
      }; no process pinned. The servers run with default settings (no span export) except the ` +
      "traced contender, whose spans go to " +
      (r.collector?.kind === "otelcol"
        ? "the native OpenTelemetry Collector."
        : r.collector
        ? "the minimal OTLP sink (the native collector is not built)."
        : "a collector (not run)."),
      `Chat answers carry ${FLOOR_TOKENS} tokens; the fake upstream shares the machine, unpinned.`,
    ];
    return {
      tables,
      headline,
      notes,
      targets,
      raw: Object.fromEntries(samples),
    };
  },
};
