/** Ledger rows and temporary ledgers for the ledger tests. */
import fc from "fast-check";
import type { LedgerRow, TokenKind } from "../../src/ledger/row.ts";
import { type Ledger, type LedgerOptions, openSqliteLedger } from "../../src/ledger/ledger.ts";

/** Micro-dollars per 1M tokens of each kind, as in the price table. */
export const RATES: Readonly<Record<TokenKind, bigint>> = {
  input: 150_000n,
  cached_input: 75_000n,
  cache_write_5m: 187_500n,
  cache_write_1h: 300_000n,
  output: 600_000n,
};

/** A priced row whose costs are its tokens × {@link RATES}; `overrides` may change anything. */
export function makeRow(overrides: Partial<LedgerRow> = {}): LedgerRow {
  const base = {
    requestId: crypto.randomUUID(),
    ts: Date.UTC(2026, 10, 25, 14, 30),
    tenant: "team-a",
    keyName: null,
    endUser: null,
    model: "gpt-4o-mini",
    requestModel: "gpt-4o-mini",
    provider: "simulated",
    route: "/v1/chat/completions",
    operation: "chat",
    status: "ok",
    errorType: null,
    inputTokens: 1000,
    cachedInputTokens: 200,
    cacheWrite5mTokens: 100,
    cacheWrite1hTokens: 0,
    outputTokens: 300,
    reasoningTokens: 0,
    serviceTier: null,
    priceTier: null,
    usageSource: "provider" as const,
    pricingVersion: "2026-01",
    traceId: null,
    ...overrides,
  };
  if (overrides.unpriced) {
    return { ...base, costPico: null, kindCosts: null, unpriced: true };
  }
  const uncached = base.inputTokens - base.cachedInputTokens - base.cacheWrite5mTokens -
    base.cacheWrite1hTokens;
  const kindCosts = overrides.kindCosts ?? {
    input: BigInt(uncached) * RATES.input,
    cached_input: BigInt(base.cachedInputTokens) * RATES.cached_input,
    cache_write_5m: BigInt(base.cacheWrite5mTokens) * RATES.cache_write_5m,
    cache_write_1h: BigInt(base.cacheWrite1hTokens) * RATES.cache_write_1h,
    output: BigInt(base.outputTokens) * RATES.output,
  };
  const costPico = Object.values(kindCosts).reduce((a, b) => a + b, 0n);
  return { ...base, unpriced: false, kindCosts, costPico };
}

/** Random valid rows: mixed tenants, models, routes, statuses, times in November 2026. */
export const rowArbitrary: fc.Arbitrary<LedgerRow> = fc.record({
  requestId: fc.uuid(),
  ts: fc.integer({ min: Date.UTC(2026, 10, 1), max: Date.UTC(2026, 11, 1) - 1 }),
  tenant: fc.constantFrom("team-a", "team-b", "other"),
  model: fc.constantFrom("gpt-4o-mini", "claude-sonnet-4.5", "unknown"),
  keyName: fc.option(fc.constantFrom("ci", "prod"), { nil: null }),
  endUser: fc.option(fc.string({ maxLength: 12 }), { nil: null }),
  route: fc.constantFrom("/v1/chat/completions", "/v1/messages", "/v1/inference"),
  status: fc.constantFrom("ok", "ok", "ok", "client_closed", "budget_exceeded", "rate_limited"),
  cached: fc.nat(5000),
  write5m: fc.nat(5000),
  write1h: fc.nat(5000),
  uncached: fc.nat(100_000),
  outputTokens: fc.nat(50_000),
  unpriced: fc.boolean(),
}).map((r) => {
  const refused = r.status === "budget_exceeded" || r.status === "rate_limited";
  const tokens = refused ? 0 : 1;
  return makeRow({
    requestId: r.requestId,
    ts: r.ts,
    tenant: r.tenant,
    model: r.model,
    keyName: r.keyName,
    endUser: r.endUser,
    route: r.route,
    status: r.status,
    inputTokens: tokens * (r.uncached + r.cached + r.write5m + r.write1h),
    cachedInputTokens: tokens * r.cached,
    cacheWrite5mTokens: tokens * r.write5m,
    cacheWrite1hTokens: tokens * r.write1h,
    outputTokens: tokens * r.outputTokens,
    unpriced: r.unpriced && !refused,
  });
});

/** A SQLite ledger in a fresh temporary folder, removed by `cleanup()`. */
export async function tempLedger(
  options: LedgerOptions = {},
): Promise<{ ledger: Ledger; path: string; cleanup: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "ict-ledger-" });
  const path = `${dir}/nested/ledger.sqlite`;
  const ledger = openSqliteLedger(path, "normal", options);
  return {
    ledger,
    path,
    async cleanup() {
      await ledger.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Collects an async iterable. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** Collects the rows of a ledger scan's chunks. */
export async function scanned(chunks: AsyncIterable<readonly LedgerRow[]>): Promise<LedgerRow[]> {
  return (await collect(chunks)).flat();
}
