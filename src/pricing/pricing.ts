/**
 * The price table: model ids, aliases and their rates (the model's own, per service tier, and above
 * a long-context threshold), loaded from a JSON file that is validated at start-up. Rates are
 * integer micro-dollars per 1M tokens, so that every cost is exact. The rules: docs/pricing.md.
 */
import { costPico } from "./money.ts";
import { type PriceFileRates, priceFileSchema, type PriceFileTier } from "./schema.ts";
import embeddedPrices from "./prices.json" with { type: "json" };
import type { Tokenizer } from "../tokens/tokenizers.ts";

/** One set of rates, micro-dollars per 1M tokens. */
export interface Rates {
  readonly inputMicros: bigint;
  readonly cachedInputMicros: bigint;
  /** A 5-minute cache write (and any cache write reported without a duration). */
  readonly cacheWriteMicros: bigint;
  /** A 1-hour cache write. */
  readonly cacheWrite1hMicros: bigint;
  readonly outputMicros: bigint;
}

/** Rates that bill a whole request whose prompt is above the threshold. */
export interface LongContextRates extends Rates {
  /** Prompt tokens (input, cache reads and cache writes together) up to which they do not apply. */
  readonly thresholdInputTokens: number;
}

/** A rate set with its long-context tier, if any: a model's own rates or a service tier's. */
export interface TierRates extends Rates {
  readonly longContext?: LongContextRates;
}

/** One priced model; its own rates are the standard (`default`) service tier's. */
export interface ModelPrice extends TierRates {
  readonly id: string;
  readonly provider: string;
  readonly tokenizer: Tokenizer;
  /** 0 for a model that writes no text (embeddings). */
  readonly maxOutputTokens: number;
  readonly aliases: readonly string[];
  /** Other service tiers by the name providers report (`flex`, `priority`). */
  readonly serviceTiers: ReadonlyMap<string, TierRates>;
}

/**
 * Token counts of one request. Cached and cache-write tokens are parts of `inputTokens`;
 * `cacheWrite1hTokens` is the part of `cacheWriteTokens` written for one hour (without it every
 * cache write is a 5-minute one); `reasoningTokens` is the part of `outputTokens` spent reasoning.
 */
export interface TokenUsage {
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly cacheWriteTokens: number;
  readonly outputTokens: number;
  readonly cacheWrite1hTokens?: number;
  /** Informational: billed once, as the output it is part of. */
  readonly reasoningTokens?: number;
  /** The service tier the provider says it served (`default`, `flex`, `priority`, ...). */
  readonly serviceTier?: string;
}

/** A loaded, validated price table. */
export interface PriceTable {
  readonly version: string;
  readonly effectiveDate: string;
  /** The effective date's start (00:00 UTC) in Unix seconds. */
  readonly effectiveTimestampSeconds: number;
  readonly models: ReadonlyMap<string, ModelPrice>;
  /** Canonical id or alias → price; undefined for a model that is not priced. */
  resolve(name: string): ModelPrice | undefined;
}

/** A price file that does not validate; the message names the field. */
export class PricingError extends Error {
  override name = "PricingError";
}

function ratesOf(raw: PriceFileRates): Rates {
  // A missing cache rate bills at the set's input rate, a missing 1-hour write at the 5-minute one.
  const cacheWrite = raw.cache_write ?? raw.input;
  return {
    inputMicros: raw.input,
    cachedInputMicros: raw.cached_input ?? raw.input,
    cacheWriteMicros: cacheWrite,
    cacheWrite1hMicros: raw.cache_write_1h ?? cacheWrite,
    outputMicros: raw.output,
  };
}

function tierOf(raw: PriceFileTier): TierRates {
  const long = raw.long_context;
  return long
    ? {
      ...ratesOf(raw),
      longContext: { thresholdInputTokens: long.threshold_input_tokens, ...ratesOf(long) },
    }
    : ratesOf(raw);
}

/** Validates parsed price-file JSON and builds the table. Throws {@link PricingError}. */
export function buildPriceTable(raw: unknown, source = "prices"): PriceTable {
  const parsed = priceFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PricingError(`${source}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const models = new Map<string, ModelPrice>();
  const byName = new Map<string, ModelPrice>();
  for (const [id, m] of Object.entries(parsed.data.models)) {
    const price: ModelPrice = {
      id,
      provider: m.provider,
      tokenizer: m.tokenizer,
      ...tierOf(m),
      maxOutputTokens: m.max_output_tokens,
      aliases: m.aliases,
      serviceTiers: new Map(
        Object.entries(m.service_tiers).map(([name, tier]) => [name, tierOf(tier)]),
      ),
    };
    models.set(id, price);
    for (const name of [id, ...m.aliases]) {
      const taken = byName.get(name);
      if (taken) {
        throw new PricingError(
          `${source}: models.${id}.aliases: "${name}" already names model "${taken.id}"`,
        );
      }
      byName.set(name, price);
    }
  }
  return {
    version: parsed.data.pricing_version,
    effectiveDate: parsed.data.effective_date,
    effectiveTimestampSeconds: Date.parse(`${parsed.data.effective_date}T00:00:00Z`) / 1000,
    models,
    resolve: (name) => byName.get(name),
  };
}

/** The price table shipped with the server. */
export function embeddedPriceTable(): PriceTable {
  return buildPriceTable(embeddedPrices, "src/pricing/prices.json");
}

/** Reads and validates a price file; errors name the file and the field. */
export function loadPriceTable(path: string): PriceTable {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    throw new PricingError(`${path}: cannot read: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new PricingError(`${path}: not valid JSON: ${(error as Error).message}`);
  }
  return buildPriceTable(raw, path);
}

/**
 * Which rates billed a request: `standard`, `long_context`, a service tier's name (`flex`,
 * `priority`), or that name followed by `+long_context`.
 */
export type PriceTier = string;

/** The cost of one request in picodollars, each part of the input at its own rate. */
export interface Cost {
  readonly totalPico: bigint;
  readonly inputPico: bigint;
  readonly cachedInputPico: bigint;
  /** Cache writes of both durations. */
  readonly cacheWritePico: bigint;
  /** The 1-hour writes' part of `cacheWritePico`. */
  readonly cacheWrite1hPico: bigint;
  readonly outputPico: bigint;
  readonly priceTier: PriceTier;
}

/** The service tier that a client names to ask for the model's own rates. */
const STANDARD_TIER = "default";

/** The rates a request is billed at: its service tier's, then long-context ones above the threshold. */
function ratesFor(
  price: ModelPrice,
  serviceTier: string | undefined,
  promptTokens: number,
): { rates: Rates; priceTier: PriceTier } {
  // A tier the table does not price (`default`, `scale`, one not listed) bills at the model's own.
  const tier = serviceTier === undefined ? undefined : price.serviceTiers.get(serviceTier);
  const base: TierRates = tier ?? price;
  const name = tier ? serviceTier! : "standard";
  const long = base.longContext;
  if (long && promptTokens > long.thresholdInputTokens) {
    return { rates: long, priceTier: tier ? `${name}+long_context` : "long_context" };
  }
  return { rates: base, priceTier: name };
}

/**
 * The one cost function. Uncached input, cache reads, 5-minute and 1-hour cache writes and output
 * are each priced at their own rate; a cached token is never also billed as uncached input. The
 * service tier picks the rate set; a prompt above its long-context threshold bills the whole
 * request at that set's long-context rates.
 * @example costOf(gpt4oMini, { inputTokens: 6, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 10 }).totalPico // 6_900_000n
 */
export function costOf(price: ModelPrice, usage: TokenUsage): Cost {
  const writes1h = usage.cacheWrite1hTokens ?? 0;
  const writes5m = Math.max(0, usage.cacheWriteTokens - writes1h);
  const uncached = Math.max(0, usage.inputTokens - usage.cachedInputTokens - writes5m - writes1h);
  const promptTokens = uncached + usage.cachedInputTokens + writes5m + writes1h;
  const { rates, priceTier } = ratesFor(price, usage.serviceTier, promptTokens);
  const inputPico = costPico(uncached, rates.inputMicros);
  const cachedInputPico = costPico(usage.cachedInputTokens, rates.cachedInputMicros);
  const cacheWrite1hPico = costPico(writes1h, rates.cacheWrite1hMicros);
  const cacheWritePico = costPico(writes5m, rates.cacheWriteMicros) + cacheWrite1hPico;
  const outputPico = costPico(usage.outputTokens, rates.outputMicros);
  return {
    totalPico: inputPico + cachedInputPico + cacheWritePico + outputPico,
    inputPico,
    cachedInputPico,
    cacheWritePico,
    cacheWrite1hPico,
    outputPico,
    priceTier,
  };
}

/**
 * The most a request can cost before it runs, given at most `inputTokens` of prompt: every input
 * token at the dearest input rate (1-hour cache writes included) and `maxOutputTokens` of output,
 * in the dearest rate set the answer can be billed at. That is every service tier, unless the
 * request names one (`default`, or a tier the table prices, which may still be served at the
 * model's own rates); long-context rates only once `inputTokens` is above their threshold.
 * Budgets reserve this much and settle to the actual cost after.
 */
export function worstCaseCostPico(
  price: ModelPrice,
  inputTokens: number,
  maxOutputTokens: number,
  requestedServiceTier?: string,
): bigint {
  const requested = requestedServiceTier === undefined
    ? undefined
    : price.serviceTiers.get(requestedServiceTier);
  const tiers: TierRates[] = requested
    ? [price, requested]
    : requestedServiceTier === STANDARD_TIER
    ? [price]
    : [price, ...price.serviceTiers.values()];
  let worst = 0n;
  for (const tier of tiers) {
    const sets: Rates[] = tier.longContext && inputTokens > tier.longContext.thresholdInputTokens
      ? [tier, tier.longContext]
      : [tier];
    for (const rates of sets) {
      const inputRate = [rates.cachedInputMicros, rates.cacheWriteMicros, rates.cacheWrite1hMicros]
        .reduce((max, rate) => rate > max ? rate : max, rates.inputMicros);
      const cost = costPico(inputTokens, inputRate) + costPico(maxOutputTokens, rates.outputMicros);
      if (cost > worst) worst = cost;
    }
  }
  return worst;
}
