/**
 * Budget store in Redis, shared by every replica. A reservation checks and adds the amount in all
 * of a tenant's limited windows in one Lua script, so it is all-or-nothing and atomic across
 * replicas; settling is a second script. Each window is a hash with its own expiry (the window's
 * end plus a grace period for requests still in flight when it ends).
 *
 * Redis runs Lua 5.1, whose numbers are doubles: a picodollar total above 2^53 (about $9,007)
 * would lose precision. So an amount is kept as two exact integers, whole micro-dollars (`hi`)
 * and the picodollar remainder below one micro-dollar (`lo`, 0 ≤ lo < 10^6), and the script adds
 * and compares the pairs. That is exact for any amount below 2^53 micro-dollars ($9 billion).
 */
import { Redis } from "ioredis";
import { BUDGET_WINDOWS, type BudgetWindow } from "../tenants/tenants.ts";
import { type BudgetStore, limitedWindows, type Remaining, type ReserveResult } from "./store.ts";
import { windowAt, type WindowSpan } from "./windows.ts";

/** Options of {@link createRedisBudgetStore}. */
export interface RedisBudgetStoreOptions {
  /** `redis://[user:password@]host:port[/db]`. */
  readonly url: string;
  /** Prefix of every key this store writes; lets several deployments share one Redis. */
  readonly keyPrefix?: string;
  /** How long a command may wait for Redis before the request fails; default 2 s. */
  readonly commandTimeoutMs?: number;
}

const PICO_PER_MICRO = 1_000_000n;
/** How long a window's spend is kept after the window ends, for reservations settled late. */
const GRACE_MS = 60 * 60 * 1000;

/** Splits picodollars into [micro-dollars, remainder in 0..999999], flooring for negatives. */
function split(pico: bigint): [string, string] {
  let hi = pico / PICO_PER_MICRO;
  let lo = pico % PICO_PER_MICRO;
  if (lo < 0n) {
    lo += PICO_PER_MICRO;
    hi -= 1n;
  }
  if (hi > BigInt(Number.MAX_SAFE_INTEGER) || hi < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`amount of ${pico} picodollars is beyond what the Redis store can hold`);
  }
  return [hi.toString(), lo.toString()];
}

function join(hi: unknown, lo: unknown): bigint {
  return BigInt(Number(hi ?? 0)) * PICO_PER_MICRO + BigInt(Number(lo ?? 0));
}

// Numbers are written with string.format('%d'): Redis's own number-to-string conversion may use
// an exponent for large values, which HMGET would then read back rounded.
// KEYS: one hash per limited window. ARGV: amount hi, amount lo, then per key: limit hi, limit lo,
// time to live (ms). Returns {1, spent hi, spent lo, ...} with the spend before this reservation
// for every key, or {0, index of the first window it would cross (1-based), spent hi, spent lo}.
const RESERVE_LUA = `
local M = 1000000
local ahi, alo = tonumber(ARGV[1]), tonumber(ARGV[2])
local spent = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('HMGET', key, 'hi', 'lo')
  local hi, lo = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  local nhi, nlo = hi + ahi, lo + alo
  if nlo >= M then nlo = nlo - M; nhi = nhi + 1 end
  local lhi, llo = tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
  if nhi > lhi or (nhi == lhi and nlo > llo) then return {0, i, hi, lo} end
  spent[i] = {hi, lo, nhi, nlo}
end
local out = {1}
for i, key in ipairs(KEYS) do
  redis.call('HSET', key, 'hi', string.format('%d', spent[i][3]), 'lo', string.format('%d', spent[i][4]))
  redis.call('PEXPIRE', key, ARGV[3 * i + 2])
  out[#out + 1] = spent[i][1]
  out[#out + 1] = spent[i][2]
end
return out
`;

// KEYS: the reservation's window hashes. ARGV: delta hi, delta lo (lo in 0..999999). A window
// whose hash has expired is left alone: its period is over and nobody reads it any more.
const SETTLE_LUA = `
local M = 1000000
local dhi, dlo = tonumber(ARGV[1]), tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    local v = redis.call('HMGET', key, 'hi', 'lo')
    local hi, lo = (tonumber(v[1]) or 0) + dhi, (tonumber(v[2]) or 0) + dlo
    if lo >= M then lo = lo - M; hi = hi + 1 end
    redis.call('HSET', key, 'hi', string.format('%d', hi), 'lo', string.format('%d', lo))
  end
end
return 1
`;

// KEYS: window hashes. ARGV per key: the ledger's spend hi, lo, then the time to live (ms). A
// window below the ledger's spend is raised to it (a Redis that lost its data); one at or above
// it (reservations in flight included) is left alone, so replicas restoring together agree.
const RESTORE_LUA = `
for i, key in ipairs(KEYS) do
  local ghi, glo = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1])
  local v = redis.call('HMGET', key, 'hi', 'lo')
  local hi, lo = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  if hi < ghi or (hi == ghi and lo < glo) then
    local fresh = redis.call('EXISTS', key) == 0
    redis.call('HSET', key, 'hi', string.format('%d', ghi), 'lo', string.format('%d', glo))
    if fresh then redis.call('PEXPIRE', key, ARGV[3 * i]) end
  end
end
return 1
`;

type ScriptedRedis = Redis & {
  budgetReserve(keys: number, ...args: string[]): Promise<number[]>;
  budgetSettle(keys: number, ...args: string[]): Promise<number>;
  budgetRestore(keys: number, ...args: string[]): Promise<number>;
};

/**
 * Builds a budget store on the Redis at `url`. It connects lazily; a Redis that is down makes
 * `reserve` reject after `commandTimeoutMs` (the request then fails; nothing is over-spent).
 */
export function createRedisBudgetStore(options: RedisBudgetStoreOptions): BudgetStore {
  const prefix = options.keyPrefix ?? "ict:";
  const redis = new Redis(options.url, {
    lazyConnect: true,
    // Fail a command quickly instead of queueing it through a long reconnect: a request waiting
    // on its budget holds a concurrency slot.
    maxRetriesPerRequest: 1,
    connectTimeout: options.commandTimeoutMs ?? 2000,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  }) as ScriptedRedis;
  redis.defineCommand("budgetReserve", { lua: RESERVE_LUA });
  redis.defineCommand("budgetSettle", { lua: SETTLE_LUA });
  redis.defineCommand("budgetRestore", { lua: RESTORE_LUA });
  // Connection errors surface on the command that needed the connection; without a listener
  // ioredis would also print each one.
  redis.on("error", () => {});

  // The tenant id is a hash tag, so all of a tenant's windows share a Redis Cluster slot and
  // one script may touch them all.
  const keyOf = (tenantId: string, span: WindowSpan) => `${prefix}budget:{${tenantId}}:${span.key}`;

  return {
    async reserve(tenant, amountPico, now): Promise<ReserveResult> {
      const windows = limitedWindows(tenant, now);
      if (windows.length === 0) {
        return {
          ok: true,
          reservation: { tenantId: tenant.id, amountPico, spans: [] },
          remaining: [],
        };
      }
      const args: string[] = [
        ...windows.map((w) => keyOf(tenant.id, w.span)),
        ...split(amountPico),
      ];
      for (const { span, limitPico } of windows) {
        // A time to live, not an instant: Redis's clock may differ from this replica's, and an
        // instant already past on Redis's clock would delete the window at once, unenforced.
        const ttlMs = Math.max(0, span.resetsAt.getTime() - now.getTime()) + GRACE_MS;
        args.push(...split(limitPico), String(ttlMs));
      }
      const reply = await redis.budgetReserve(windows.length, ...args);
      if (reply[0] === 0) {
        const { span, limitPico } = windows[reply[1] - 1];
        return {
          ok: false,
          exceeded: {
            window: span.window,
            limitPico,
            spentPico: join(reply[2], reply[3]),
            resetsAt: span.resetsAt,
          },
        };
      }
      const remaining: Remaining[] = windows.map(({ span, limitPico }, i) => ({
        window: span.window,
        limitPico,
        remainingPico: limitPico - join(reply[1 + 2 * i], reply[2 + 2 * i]) - amountPico,
        resetsAt: span.resetsAt,
      }));
      return {
        ok: true,
        reservation: { tenantId: tenant.id, amountPico, spans: windows.map((w) => w.span) },
        remaining,
      };
    },
    async settle(reservation, actualPico) {
      if (reservation.spans.length === 0 || actualPico === reservation.amountPico) return;
      const keys = reservation.spans.map((span) => keyOf(reservation.tenantId, span));
      await redis.budgetSettle(keys.length, ...keys, ...split(actualPico - reservation.amountPico));
    },
    async spent(tenantId: string, window: BudgetWindow, now: Date) {
      const [hi, lo] = await redis.hmget(keyOf(tenantId, windowAt(window, now)), "hi", "lo");
      return join(hi, lo);
    },
    async seed(spend, now) {
      const keys: string[] = [];
      const args: string[] = [];
      for (const [tenantId, windows] of spend) {
        for (const window of BUDGET_WINDOWS) {
          if (windows[window] <= 0n) continue;
          const span = windowAt(window, now);
          keys.push(keyOf(tenantId, span));
          args.push(
            ...split(windows[window]),
            String(Math.max(0, span.resetsAt.getTime() - now.getTime()) + GRACE_MS),
          );
        }
      }
      if (keys.length > 0) await redis.budgetRestore(keys.length, ...keys, ...args);
    },
    async close() {
      if (redis.status === "end") return;
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
