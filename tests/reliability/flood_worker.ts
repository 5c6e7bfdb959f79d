/**
 * The cardinality flood, run in its own process so that it can force garbage collection
 * (`--v8-flags=--expose-gc`) and measure the heap cleanly: N in-process requests, each with a
 * tenant, model, request id and trace id never seen before. Prints one JSON line of figures.
 *
 * Usage: deno run --v8-flags=--expose-gc -A tests/reliability/flood_worker.ts [requests]
 */
import { createApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { parseExposition } from "../helpers/prom.ts";
import { renderMetrics } from "../../src/telemetry/exposition.ts";

const requests = Number(Deno.args[0] ?? 100_000);
const warmup = Math.min(10_000, Math.floor(requests / 10));
const concurrency = 64;

const { app, services } = createApp(
  // No ledger file: what is measured is the heap, and with the ledger off the live page's
  // in-memory store takes every request (it must stay bounded too).
  loadConfig({ UNPRICED_POLICY: "allow", LOG_LEVEL: "silent", LEDGER_URL: "none" }),
  // The no-op tracer of @opentelemetry/api, as in production without OTEL_DENO: the test is about
  // what the app itself keeps per request.
  { logger: createLogger("silent") },
);
const priced = [...services.prices.models.keys()];
const statuses = new Map<number, number>();

function requestFor(i: number): Request {
  const hex = i.toString(16).padStart(16, "0");
  const model = i % 3 === 0 ? priced[i % priced.length] : `flood-model-${i}`;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-request-id": `flood-${i}`,
    traceparent: `00-${hex}${hex}-${hex}-01`,
  };
  if (i % 2 === 0) headers["x-tenant-id"] = `header-tenant-${i}`;
  const body = i % 17 === 0
    ? `{"prompt": "broken ${i}"` // a refused request with a fresh model string nearby
    : JSON.stringify({
      prompt: `request ${i}`,
      model,
      tenant: i % 2 === 0 ? undefined : `body-tenant-${i}`,
      max_tokens: 8,
    });
  return new Request("http://flood.local/v1/inference", { method: "POST", headers, body });
}

async function run(from: number, to: number): Promise<void> {
  let next = from;
  const worker = async () => {
    while (next < to) {
      const res = await app.fetch(requestFor(next++));
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      await res.body?.cancel();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function seriesCount(): Promise<{ samples: number; families: Record<string, number> }> {
  const [text] = await renderMetrics(services.metrics.registry, "text/plain");
  const m = parseExposition(text);
  const families: Record<string, number> = {};
  for (const s of m.samples) families[s.name] = (families[s.name] ?? 0) + 1;
  return { samples: m.samples.length, families };
}

const gc = (globalThis as { gc?: () => void }).gc;
/** Heap and RSS after a full collection. Finalizers (Deno frees some response state through a
 * FinalizationRegistry) run only on a later turn of the event loop, so collect, yield, repeat. */
async function heap(): Promise<{ heapUsed: number; rss: number }> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const { heapUsed, rss } = Deno.memoryUsage();
  return { heapUsed, rss };
}

const started = performance.now();
await run(0, warmup);
const afterWarmup = { ...(await heap()), series: await seriesCount() };
await run(warmup, requests);
const elapsedMs = performance.now() - started;
const afterFlood = { ...(await heap()), series: await seriesCount() };
await services.budgets.close();

console.log(JSON.stringify({
  requests,
  warmup,
  elapsedMs: Math.round(elapsedMs),
  gcForced: gc !== undefined,
  statuses: Object.fromEntries(statuses),
  afterWarmup,
  afterFlood,
}));
