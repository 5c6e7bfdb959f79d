/**
 * Scenario 6, cold start: milliseconds from spawning the process to the first successful
 * POST /v1/inference (a priced answer, so the price table, tenants and vocabularies are loaded),
 * for the server with its shipped defaults and, as the reference, the bare Hono app. The module
 * and npm caches are warm (a first run on a machine also downloads and compiles; that is excluded).
 */
import type { BenchContext, Scenario } from "../lib/context.ts";
import { type Collector, startCollector } from "../lib/collector.ts";
import { freePort, startProcess } from "../lib/processes.ts";
import { baseEnv, ledgerEnv, startFlags } from "../lib/servers.ts";
import { formatSummary, rotation, summarize } from "../lib/stats.ts";
import { INFERENCE_BODY } from "./ceiling.ts";
import { SHIPPED_TRACING } from "./tracing.ts";

interface Contender {
  readonly id: string;
  readonly label: string;
  readonly args: (ctx: BenchContext) => string[];
  readonly env: (ctx: BenchContext, collector: Collector) => Record<string, string>;
}

const CONTENDERS: readonly Contender[] = [
  {
    id: "bare",
    label: "bare Hono (reference)",
    args: () => ["run", "--allow-net", "--allow-env", "scripts/bench/servers/bare_hono.ts"],
    env: () => ({}),
  },
  {
    id: "server",
    label: `this server, shipped defaults (${SHIPPED_TRACING.label})`,
    args: (ctx) => ["run", ...startFlags(ctx.root), "src/main.ts"],
    env: (ctx, c) => ({
      ...SHIPPED_TRACING.env,
      // A fresh ledger each start: a cold start creates and migrates it, as a first start does.
      ...ledgerEnv(ctx, `cold-server-${crypto.randomUUID()}`),
      OTEL_EXPORTER_OTLP_ENDPOINT: c.endpoint,
    }),
  },
];

async function coldStart(ctx: BenchContext, c: Contender, collector: Collector): Promise<number> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}/v1/inference`;
  const started = performance.now();
  const proc = startProcess({
    name: `cold-${c.id}`,
    command: Deno.execPath(),
    args: c.args(ctx),
    env: {
      ...baseEnv(),
      HOST: "127.0.0.1",
      NO_COLOR: "1",
      ...c.env(ctx, collector),
      PORT: String(port),
    },
    cwd: ctx.root,
    cpus: ctx.cpus.server,
    logDir: ctx.workDir,
  });
  let exited = false;
  proc.status.then(() => exited = true);
  try {
    while (performance.now() - started < 30_000) {
      if (exited) throw new Error(`${c.id} exited during start-up`);
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: INFERENCE_BODY,
        });
        await res.body?.cancel();
        if (res.status === 200) return performance.now() - started;
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error(`${c.id} did not answer within 30 s`);
  } finally {
    await proc.stop();
  }
}

/** Scenario 6. */
export const coldStartScenario: Scenario = {
  id: "cold-start",
  title: "6. Cold start: process start to first successful request",
  async run(ctx) {
    const collector = await startCollector(ctx.root, ctx.workDir, ctx.cpus.load);
    const times = new Map<string, number[]>(CONTENDERS.map((c) => [c.id, []]));
    try {
      for (const c of CONTENDERS) await coldStart(ctx, c, collector); // code cache warm-up
      const rounds = ctx.smoke ? 1 : Math.max(ctx.rounds, 5);
      for (let round = 0; round < rounds; round++) {
        for (const c of rotation(CONTENDERS, round)) {
          const ms = await coldStart(ctx, c, collector);
          times.get(c.id)!.push(ms);
          ctx.log(`  round ${round + 1} ${c.id}: ${ms.toFixed(0)} ms`);
        }
      }
    } finally {
      await collector.stop();
    }
    const server = summarize(times.get("server")!);
    return {
      tables: [{
        headers: ["contender", "ms to first 200, median (min–max)"],
        rows: CONTENDERS.map((c) => [c.label, formatSummary(summarize(times.get(c.id)!))]),
      }],
      headline: { "cold start to first priced answer (median)": `${server.median.toFixed(0)} ms` },
      notes: [
        "Polled every 2 ms with the real request; Deno's module and npm caches were warm.",
      ],
      raw: Object.fromEntries(times),
    };
  },
};
