/**
 * The ledger at scale: fills a ledger with N rows (default 1,000,000: a busy month — 20 tenants,
 * 10 models, 50 keys, 1,000 end users, spread over 30 days) through the same group-commit append
 * the server uses, then times the spend report, paging and both exports. Prints one line per
 * figure and, with --json, writes them to a file (docs/ledger.md quotes a run).
 *
 *   deno run --allow-all scripts/bench/ledger_scale.ts [--rows=N] [--ledger=sqlite:PATH|postgres://…]
 *       [--json=out.json]
 *
 * Without --ledger it uses a fresh SQLite file in a temporary folder, removed afterwards. A
 * PostgreSQL ledger must be an empty database; rows go through an outbox (in a temporary folder)
 * as in production.
 */
import { parseArgs } from "node:util";
import postgres from "postgres";
import process from "node:process";
import { parseLedgerUrl } from "../../src/config.ts";
import { type Ledger, openLedger } from "../../src/ledger/ledger.ts";
import type { LedgerRow } from "../../src/ledger/row.ts";
import { csvExport, focusExport } from "../../src/ledger/export.ts";
import type { Cursor, SpendQuery } from "../../src/ledger/query.ts";

const MONTH_START = Date.UTC(2026, 10, 1);
const MONTH_MS = 30 * 86_400_000;

function syntheticRow(i: number, rows: number): LedgerRow {
  const input = 200 + (i * 7919) % 4000;
  const cached = (i % 3) * 100;
  const output = 50 + (i * 104_729) % 1500;
  const kindCosts = {
    input: BigInt(input - cached) * 150_000n,
    cached_input: BigInt(cached) * 75_000n,
    cache_write_5m: 0n,
    cache_write_1h: 0n,
    output: BigInt(output) * 600_000n,
  };
  return {
    requestId: `bench-${i}`,
    ts: MONTH_START + Math.floor((i / rows) * MONTH_MS),
    tenant: `tenant-${i % 20}`,
    keyName: `key-${i % 50}`,
    endUser: `user-${i % 1000}`,
    model: `model-${i % 10}`,
    requestModel: `model-${i % 10}`,
    provider: "simulated",
    route: [
      "/v1/chat/completions",
      "/v1/messages",
      "/v1/responses",
      "/v1/inference",
      "/v1/embeddings",
    ][i % 5],
    operation: "chat",
    status: i % 50 === 0 ? "budget_exceeded" : "ok",
    errorType: null,
    inputTokens: input,
    cachedInputTokens: cached,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
    outputTokens: output,
    reasoningTokens: 0,
    serviceTier: null,
    priceTier: null,
    costPico: kindCosts.input + kindCosts.cached_input + kindCosts.output,
    kindCosts,
    unpriced: false,
    usageSource: "provider",
    pricingVersion: "bench",
    traceId: null,
  };
}

/**
 * Runs `fn`, recording its wall time and this process's CPU time (user + system): on a shared
 * machine the CPU time is the steadier figure.
 */
async function timed<T>(
  what: string,
  figures: Record<string, number>,
  fn: () => Promise<T>,
): Promise<T> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await fn();
  const ms = Math.round(performance.now() - started);
  const used = process.cpuUsage(cpu);
  const cpuMs = Math.round((used.user + used.system) / 1000);
  figures[what] = ms;
  figures[`${what} (cpu)`] = cpuMs;
  console.log(`${what}: ${ms} ms (cpu ${cpuMs} ms)`);
  return result;
}

async function drain(chunks: AsyncIterable<string>): Promise<number> {
  let bytes = 0;
  for await (const chunk of chunks) bytes += chunk.length;
  return bytes;
}

async function run(
  ledger: Ledger,
  url: string,
  rows: number,
  figures: Record<string, number>,
): Promise<void> {
  await timed("append (bursts of 1000 per event-loop turn)", figures, async () => {
    for (let i = 0; i < rows; i += 1000) {
      const burst = [];
      for (let j = i; j < Math.min(rows, i + 1000); j++) {
        burst.push(ledger.append(syntheticRow(j, rows)));
      }
      await Promise.all(burst);
    }
  });
  // One append at a time: every row its own commit, the latency a lone request's response waits.
  const lone = Math.min(2000, rows);
  await timed(`append ${lone} one at a time`, figures, async () => {
    for (let i = 0; i < lone; i++) await ledger.append(syntheticRow(rows + i, rows + lone));
  });
  figures["append latency one at a time (µs)"] = Math.round(
    figures[`append ${lone} one at a time`] * 1000 / lone,
  );
  if (ledger.store === "postgres") {
    await timed("ship outbox to PostgreSQL", figures, async () => {
      while (ledger.backlog() > 0) await new Promise((r) => setTimeout(r, 50));
    });
    // What autovacuum does within a minute or so of a bulk load: without statistics the planner
    // takes the freshly filled table for a small one and sorts it whole for every page.
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    await timed("ANALYZE ledger", figures, () => sql.unsafe("ANALYZE ledger"));
    await sql.end();
  }
  const month: SpendQuery = { fromMs: MONTH_START, toMs: MONTH_START + MONTH_MS, groupBy: [] };
  for (
    const groupBy of [[], ["tenant", "model"], ["day"], ["tenant", "model", "day"], [
      "user",
    ]] as const
  ) {
    const report = await timed(
      `report group_by=${groupBy.join(",") || "(total)"}`,
      figures,
      () => ledger.report({ ...month, groupBy }),
    );
    if (report.total.requests + report.total.refusedRequests !== BigInt(rows + lone)) {
      throw new Error(`report counted ${report.total.requests} requests of ${rows}`);
    }
  }
  await timed(
    "report one tenant, group_by=model",
    figures,
    () => ledger.report({ ...month, tenant: "tenant-7", groupBy: ["model"] }),
  );
  await timed("records: first page of 100", figures, () => ledger.page({ ...month, limit: 100 }));
  let cursor: Cursor | undefined;
  await timed("records: 100 pages of 1000", figures, async () => {
    for (let p = 0; p < 100; p++) {
      cursor = (await ledger.page({ ...month, limit: 1000, after: cursor })).next ?? undefined;
    }
  });
  const csvBytes = await timed(
    "export csv (all rows)",
    figures,
    () => drain(csvExport(ledger.scan(month))),
  );
  const focusBytes = await timed(
    "export focus (all rows)",
    figures,
    () =>
      drain(focusExport(ledger.scan(month), { billingAccountId: "b", billingAccountName: "b" })),
  );
  figures["csv MB"] = Math.round(csvBytes / 1e6);
  figures["focus MB"] = Math.round(focusBytes / 1e6);
  figures["peak RSS MB"] = Math.round(Deno.memoryUsage().rss / 1e6);
  console.log(
    `csv ${figures["csv MB"]} MB, focus ${figures["focus MB"]} MB, RSS ${
      figures["peak RSS MB"]
    } MB`,
  );
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { rows: { type: "string" }, ledger: { type: "string" }, json: { type: "string" } },
  });
  const rows = Number(values.rows ?? 1_000_000);
  // The SQLite ledger (by default) or the PostgreSQL outbox lives in a temporary folder.
  const dir = await Deno.makeTempDir({ prefix: "ict-ledger-bench-" });
  const url = values.ledger ?? `sqlite:${dir}/ledger.sqlite`;
  const config = parseLedgerUrl(url, `${dir}/outbox.sqlite`, "normal");
  if (!config || config.kind === "none") throw new Error(`--ledger: not a ledger URL: ${url}`);
  const ledger = openLedger(config)!;
  const figures: Record<string, number> = { rows };
  try {
    console.log(`${rows} rows into ${config.kind}`);
    await run(ledger, url, rows, figures);
  } finally {
    await ledger.close();
    await Deno.remove(dir, { recursive: true });
  }
  if (values.json) {
    await Deno.writeTextFile(
      values.json,
      JSON.stringify({ store: config.kind, ...figures }, null, 2),
    );
  }
}
