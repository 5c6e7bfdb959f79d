/**
 * The price-table guardrail behind `deno task prices:check`: what a new price file changes that is
 * more likely a typo than a price change — a rate moved more than tenfold (a misplaced decimal
 * point), a model or alias gone (its requests would be refused or go unpriced), new prices under
 * the old `pricing_version` (spans and metrics could not tell the tables apart).
 */
import { isDeepStrictEqual } from "node:util";
import { formatUsd } from "./money.ts";
import { buildPriceTable, type PriceTable, type Rates, type TierRates } from "./pricing.ts";
import { type PriceFileRates, priceFileSchema, type PriceFileTier } from "./schema.ts";

/** A rate may move up to this factor, either way, without being refused. */
const MAX_RATE_FACTOR = 10n;

/** One reason to refuse a new price file. */
export interface PriceChangeProblem {
  readonly kind: "rate_jump" | "missing_model" | "version_unchanged";
  readonly message: string;
}

/** What a new price file changes, and what in it needs `--accept`. */
export interface PriceCheck {
  /** Parsed JSON equal: nothing changes. */
  readonly identical: boolean;
  readonly problems: readonly PriceChangeProblem[];
}

const RATE_NAMES: ReadonlyArray<[keyof Rates, keyof PriceFileRates]> = [
  ["inputMicros", "input"],
  ["cachedInputMicros", "cached_input"],
  ["cacheWriteMicros", "cache_write"],
  ["cacheWrite1hMicros", "cache_write_1h"],
  ["outputMicros", "output"],
];

/** USD per 1M tokens from micro-USD per 1M tokens, exact. */
function usdPer1m(micros: bigint): string {
  return formatUsd(micros * 1_000_000n);
}

function factor(from: bigint, to: bigint): string {
  if (from === 0n || to === 0n) return from === 0n ? "up from zero" : "down to zero";
  const [big, small] = to > from ? [to, from] : [from, to];
  return `${Number((Number(big) / Number(small)).toFixed(3))}x ${to > from ? "up" : "down"}`;
}

/** A built rate set beside the file's, which says which rates are stated rather than implied. */
type Side = { readonly rates: TierRates; readonly raw: PriceFileTier };

function rateJumps(path: string, from: Side, to: Side): PriceChangeProblem[] {
  const problems: PriceChangeProblem[] = [];
  for (const [key, name] of RATE_NAMES) {
    // A rate stated in neither file follows the one it defaults to, which is checked itself.
    if (from.raw[name] === undefined && to.raw[name] === undefined) continue;
    const [a, b] = [from.rates[key], to.rates[key]];
    if (b > a * MAX_RATE_FACTOR || a > b * MAX_RATE_FACTOR) {
      problems.push({
        kind: "rate_jump",
        message: `${path}.${name}: ${usdPer1m(a)} -> ${usdPer1m(b)} USD per 1M tokens (${
          factor(a, b)
        }, more than ${MAX_RATE_FACTOR}x)`,
      });
    }
  }
  return problems;
}

/** A rate set and its long-context tier, where both tables have them. */
function tierJumps(path: string, from: Side, to: Side): PriceChangeProblem[] {
  const problems = rateJumps(path, from, to);
  const [fromLong, toLong] = [from.rates.longContext, to.rates.longContext];
  if (fromLong && toLong && from.raw.long_context && to.raw.long_context) {
    problems.push(
      ...rateJumps(
        `${path}.long_context`,
        { rates: fromLong, raw: from.raw.long_context },
        { rates: toLong, raw: to.raw.long_context },
      ),
    );
  }
  return problems;
}

type Table = { readonly table: PriceTable; readonly raw: unknown };

/** Compares two valid price files; `identical` says whether they are equal. */
function compare(current: Table, next: Table, identical: boolean): PriceChangeProblem[] {
  if (identical) return [];
  const problems: PriceChangeProblem[] = [];
  if (next.table.version === current.table.version) {
    problems.push({
      kind: "version_unchanged",
      message: `pricing_version: still "${current.table.version}" though the file changed; ` +
        "give the new table a new version",
    });
  }
  const currentRaw = priceFileSchema.parse(current.raw).models;
  const nextRaw = priceFileSchema.parse(next.raw).models;
  for (const [id, price] of current.table.models) {
    const replacement = next.table.models.get(id);
    if (!replacement) {
      const resolved = next.table.resolve(id);
      problems.push({
        kind: "missing_model",
        message: `models.${id}: missing${
          resolved ? ` (the name now resolves to "${resolved.id}" as an alias)` : ""
        }; its requests would be refused or go unpriced`,
      });
      continue;
    }
    for (const alias of price.aliases) {
      if (next.table.resolve(alias) === undefined) {
        problems.push({
          kind: "missing_model",
          message: `models.${id}.aliases: "${alias}" no longer resolves`,
        });
      }
    }
    const [from, to] = [currentRaw[id], nextRaw[id]];
    problems.push(
      ...tierJumps(`models.${id}`, { rates: price, raw: from }, { rates: replacement, raw: to }),
    );
    for (const [tier, rates] of price.serviceTiers) {
      const nextRates = replacement.serviceTiers.get(tier);
      if (nextRates) {
        problems.push(
          ...tierJumps(
            `models.${id}.service_tiers.${tier}`,
            { rates, raw: from.service_tiers[tier] },
            { rates: nextRates, raw: to.service_tiers[tier] },
          ),
        );
      }
    }
  }
  return problems;
}

/**
 * Validates a proposed price file (parsed JSON) and compares it with the current one. Throws
 * PricingError, naming the field, when either does not validate.
 */
export function checkPriceChange(
  currentRaw: unknown,
  nextRaw: unknown,
  sources: { current: string; next: string },
): PriceCheck {
  const current = { table: buildPriceTable(currentRaw, sources.current), raw: currentRaw };
  const next = { table: buildPriceTable(nextRaw, sources.next), raw: nextRaw };
  const identical = isDeepStrictEqual(currentRaw, nextRaw);
  return { identical, problems: compare(current, next, identical) };
}
