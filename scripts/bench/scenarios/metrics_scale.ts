/**
 * Scenario 5, metrics at scale: a synthetic price file (M models) and tenants file (T tenants)
 * give M × T = 10,000 model × tenant series per counter family once one request has gone to each
 * pair. Then: /metrics render time (OpenMetrics, as Prometheus asks, and the classic text format),
 * the server's CPU per render and its resident memory. In full mode a soak follows: a steady rate
 * over a spread of those series for `--soak-seconds` (default 300) with a scrape every 15 s, RSS
 * sampled every 5 s, and the least-squares slope of RSS over time reported.
 */
import type { BenchContext, Scenario } from "../lib/context.ts";
import { type Collector, startCollector } from "../lib/collector.ts";
import { fixedRate, type Target } from "../lib/load.ts";
import { type RunningServer, startApp } from "../lib/servers.ts";
import { formatSummary, summarize } from "../lib/stats.ts";
import type { TargetFigure, TargetId } from "../lib/targets.ts";
import { SHIPPED_TRACING } from "./tracing.ts";

const OPENMETRICS = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";

/** Writes the synthetic price and tenant files; returns their paths and the id lists. */
async function writeFixtures(workDir: string, models: number, tenants: number) {
  const modelIds = Array.from({ length: models }, (_, i) => `bench-model-${i}`);
  const tenantIds = ["default", ...Array.from({ length: tenants - 1 }, (_, i) => `tenant-${i}`)];
  const prices = {
    pricing_version: "bench-1",
    effective_date: "2026-01-01",
    currency: "USD",
    models: Object.fromEntries(modelIds.map((id, i) => [id, {
      provider: "openai",
      tokenizer: "o200k_base",
      input: Number(((15 + i) / 100).toFixed(2)),
      output: Number(((60 + i) / 100).toFixed(2)),
      max_output_tokens: 16384,
    }])),
  };
  const tenantFile = {
    tenants: tenantIds.map((id) => ({ id, hourly_alert_threshold_usd: 25 })),
  };
  const pricingFile = `${workDir}/bench-prices.json`;
  const tenantsFile = `${workDir}/bench-tenants.json`;
  await Deno.writeTextFile(pricingFile, JSON.stringify(prices));
  await Deno.writeTextFile(tenantsFile, JSON.stringify(tenantFile));
  return { pricingFile, tenantsFile, modelIds, tenantIds };
}

function inference(url: string, model: string, tenant: string): Target {
  return {
    url: `${url}/v1/inference`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt: "Explain transformers in 3 sentences", model, tenant }),
  };
}

/** Sends one request to every model × tenant pair, 32 at a time; every answer must be 200. */
async function populate(url: string, modelIds: string[], tenantIds: string[]): Promise<void> {
  const pairs = modelIds.flatMap((m) => tenantIds.map((t) => [m, t] as const));
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < pairs.length) {
      const [model, tenant] = pairs[next++];
      const t = inference(url, model, tenant);
      const res = await fetch(t.url, { method: "POST", headers: t.headers, body: t.body });
      await res.body?.cancel();
      if (res.status !== 200) throw new Error(`populate ${model}/${tenant}: HTTP ${res.status}`);
    }
  }));
}

/** Milliseconds (client side) and server CPU ms of one scrape, and its size. */
async function scrape(server: RunningServer, accept: string | undefined) {
  const cpu0 = server.process.cpuSeconds() ?? 0;
  const t0 = performance.now();
  const res = await fetch(`${server.url}/metrics`, { headers: accept ? { accept } : {} });
  const body = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`/metrics: HTTP ${res.status}`);
  return {
    ms,
    cpuMs: ((server.process.cpuSeconds() ?? 0) - cpu0) * 1000,
    bytes: body.length,
    body,
  };
}

function countSeries(body: string, family: string): number {
  return body.split("\n").filter((l) => l.startsWith(`${family}{`)).length;
}

/** Least-squares slope of y over x. */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return num / den;
}

const MiB = 1024 * 1024;

async function soak(
  ctx: BenchContext,
  server: RunningServer,
  targets: Target[],
  rate: number,
  seconds: number,
) {
  const rss: [number, number][] = [];
  const started = performance.now();
  let done = false;
  const load = fixedRate(ctx.tools, targets, {
    rate,
    seconds,
    cpus: ctx.cpus.load,
    workDir: ctx.workDir,
  }).finally(() => done = true);
  let lastScrape = 0;
  while (!done) {
    const t = (performance.now() - started) / 1000;
    const bytes = server.process.rssBytes();
    if (bytes !== undefined) rss.push([t, bytes / MiB]);
    if (t - lastScrape >= 15) {
      lastScrape = t;
      await scrape(server, OPENMETRICS);
    }
    await Promise.race([load, new Promise((r) => setTimeout(r, 5_000))]);
  }
  const result = await load;
  // RSS swings by ~100 MiB with every scrape of 10,000 series and the collections after it, so
  // what shows growth is the floor: the lowest RSS of each minute, and the slope through those.
  const minutes = new Map<number, number[]>();
  for (const [t, mib] of rss) {
    const m = Math.floor(t / 60);
    minutes.set(m, [...(minutes.get(m) ?? []), mib]);
  }
  const floors = [...minutes].map(([m, v]) => [m, Math.min(...v), Math.max(...v)] as const);
  return {
    result,
    rss,
    floors,
    floorSlopeMiBPerMinute: slope(floors.map(([m, min]) => [m, min] as const)),
    slopeMiBPerMinute: slope(rss) * 60,
  };
}

/** Scenario 5. */
export const metricsScale: Scenario = {
  id: "metrics",
  title: "5. Metrics at scale: /metrics render time and RSS with 10,000 model × tenant series",
  async run(ctx) {
    const [models, tenants] = ctx.smoke ? [10, 10] : [100, 100];
    const fx = await writeFixtures(ctx.workDir, models, tenants);
    const collector: Collector = await startCollector(ctx.root, ctx.workDir, ctx.cpus.load);
    let server: RunningServer | undefined;
    const notes: string[] = [];
    try {
      server = await startApp(ctx, "metrics-app", {
        ...SHIPPED_TRACING.env,
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
        PRICING_FILE: fx.pricingFile,
        TENANTS_FILE: fx.tenantsFile,
      }, { readyPath: "/health" });
      const rssIdle = server.process.rssBytes() ?? NaN;
      const populateStart = performance.now();
      await populate(server.url, fx.modelIds, fx.tenantIds);
      const populateSeconds = (performance.now() - populateStart) / 1000;
      const first = await scrape(server, OPENMETRICS);
      const series = countSeries(first.body, "inference_cost_usd_total");
      if (series < models * tenants) {
        throw new Error(`expected ${models * tenants} cost series, found ${series}`);
      }
      const rssPopulated = server.process.rssBytes() ?? NaN;
      const renders = ctx.smoke ? 2 : 20;
      const rows: string[][] = [];
      const renderMs: number[] = [];
      const formats: [string, string | undefined][] = [
        ["OpenMetrics", OPENMETRICS],
        ["text 0.0.4", undefined],
      ];
      for (const [label, accept] of formats) {
        const runs = [];
        for (let i = 0; i < renders; i++) runs.push(await scrape(server, accept));
        if (accept === OPENMETRICS) renderMs.push(...runs.map((r) => r.ms));
        rows.push([
          label,
          formatSummary(summarize(runs.map((r) => r.ms)), 1),
          formatSummary(summarize(runs.map((r) => r.cpuMs)), 0),
          `${(runs[0].bytes / MiB).toFixed(2)} MiB`,
          String(runs[0].body.split("\n").filter((l) => l && !l.startsWith("#")).length),
        ]);
      }
      const rssAfterRenders = server.process.rssBytes() ?? NaN;
      const tables = [{
        title: `${series.toLocaleString("en-US")} series per model × tenant family (${models} ` +
          `models × ${tenants} tenants), ${renders} renders each`,
        headers: [
          "format",
          "render ms median (min–max)",
          "server CPU ms/render",
          "body",
          "samples",
        ],
        rows,
      }];
      const headline: Record<string, string> = {
        [`/metrics render with ${series.toLocaleString("en-US")} series (OpenMetrics, median)`]:
          rows[0][1].split(" ")[0] + " ms",
        "RSS idle → populated → after renders": `${(rssIdle / MiB).toFixed(0)} → ${
          (rssPopulated / MiB).toFixed(0)
        } → ${(rssAfterRenders / MiB).toFixed(0)} MiB`,
      };
      const render = summarize(renderMs).median;
      const targets: Partial<Record<TargetId, TargetFigure>> = {
        "metrics-render": {
          value: render,
          text: `${render.toFixed(1)} ms${
            series >= 10_000 ? "" : ` (${series.toLocaleString("en-US")} series)`
          }`,
        },
      };
      notes.push(
        `Populating ${(models * tenants).toLocaleString("en-US")} pairs took ${
          populateSeconds.toFixed(1)
        } s (32 concurrent clients).`,
      );
      if (!ctx.smoke) {
        const rate = 500;
        const soakTargets = fx.modelIds.slice(0, 10).flatMap((m) =>
          fx.tenantIds.slice(0, 10).map((t) => inference(server!.url, m, t))
        );
        const s = await soak(ctx, server, soakTargets, rate, ctx.soakSeconds);
        headline[`RSS floor slope during a ${ctx.soakSeconds} s soak at ${rate} req/s`] = `${
          s.floorSlopeMiBPerMinute.toFixed(2)
        } MiB/min (all samples: ${s.slopeMiBPerMinute.toFixed(2)} MiB/min)`;
        tables.push({
          title: `Soak: ${rate} req/s for ${ctx.soakSeconds} s over 100 of the series, a scrape ` +
            `every 15 s; ${s.result.requests} requests, ${s.result.errors} errors, p99 ${
              s.result.latencyMs?.p99.toFixed(2) ?? "–"
            } ms`,
          headers: ["minute", "RSS min MiB", "RSS max MiB"],
          rows: s.floors.map(([m, min, max]) => [String(m + 1), min.toFixed(1), max.toFixed(1)]),
        });
        if (s.result.errors > 0) throw new Error(`soak: ${s.result.errors} requests failed`);
        return { tables, headline, notes, targets, raw: { rows, soak: s } };
      }
      return { tables, headline, notes, targets, raw: { rows } };
    } finally {
      await server?.process.stop();
      await collector.stop();
    }
  },
};
