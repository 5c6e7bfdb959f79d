/**
 * The price table: model ids, aliases and USD-per-1M-token rates, loaded from a JSON file that is
 * validated at start-up. Rates become integer micro-dollars so that every cost is exact.
 */
import { z } from "zod";
import { costPico, parseRateMicros } from "./money.ts";
import embeddedPrices from "./prices.json" with { type: "json" };
import { type Tokenizer, TOKENIZERS } from "../tokens/tokenizers.ts";

/** One priced model, rates in micro-dollars per 1M tokens. */
export interface ModelPrice {
  readonly id: string;
  readonly provider: string;
  readonly tokenizer: Tokenizer;
  readonly inputMicros: bigint;
  readonly cachedInputMicros: bigint;
  readonly cacheWriteMicros: bigint;
  readonly outputMicros: bigint;
  readonly maxOutputTokens: number;
  readonly aliases: readonly string[];
}

/** Token counts of one request. Cached and cache-write tokens are parts of `inputTokens`. */
export interface TokenUsage {
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly cacheWriteTokens: number;
  readonly outputTokens: number;
}

/** A loaded, validated price table. */
export interface PriceTable {
  readonly version: string;
  readonly effectiveDate: string;
  readonly models: ReadonlyMap<string, ModelPrice>;
  /** Canonical id or alias → price; undefined for a model that is not priced. */
  resolve(name: string): ModelPrice | undefined;
}

const rate = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const micros = parseRateMicros(value);
  if (micros === null) {
    ctx.addIssue({
      code: "custom",
      message: "must be a non-negative USD amount per 1M tokens with at most 6 decimals",
    });
    return z.NEVER;
  }
  return micros;
});

const modelSchema = z.object({
  provider: z.string().min(1),
  tokenizer: z.enum(TOKENIZERS),
  input: rate,
  cached_input: rate.optional(),
  cache_write: rate.optional(),
  output: rate,
  max_output_tokens: z.number().int().positive(),
  aliases: z.array(z.string().min(1)).default([]),
}).strict();

const fileSchema = z.object({
  pricing_version: z.string().min(1),
  effective_date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date, YYYY-MM-DD"),
  currency: z.literal("USD"),
  unit: z.string().optional(),
  models: z.record(z.string().min(1), modelSchema).refine((m) => Object.keys(m).length > 0, {
    message: "must price at least one model",
  }),
}).strict();

/** A price file that does not validate; the message names the field. */
export class PricingError extends Error {
  override name = "PricingError";
}

/** Validates parsed price-file JSON and builds the table. Throws {@link PricingError}. */
export function buildPriceTable(raw: unknown, source = "prices"): PriceTable {
  const parsed = fileSchema.safeParse(raw);
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
      inputMicros: m.input,
      cachedInputMicros: m.cached_input ?? m.input,
      cacheWriteMicros: m.cache_write ?? m.input,
      outputMicros: m.output,
      maxOutputTokens: m.max_output_tokens,
      aliases: m.aliases,
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

/** The cost of one request in picodollars, each part of the input at its own rate. */
export interface Cost {
  readonly totalPico: bigint;
  readonly inputPico: bigint;
  readonly cachedInputPico: bigint;
  readonly cacheWritePico: bigint;
  readonly outputPico: bigint;
}

/**
 * The one cost function. Uncached input, cache reads, cache writes and output are each priced at
 * their own rate; a cached token is never also billed as uncached input.
 * @example costOf(gpt4oMini, { inputTokens: 6, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 10 }).totalPico // 6_900_000n
 */
export function costOf(price: ModelPrice, usage: TokenUsage): Cost {
  const uncached = Math.max(
    0,
    usage.inputTokens - usage.cachedInputTokens - usage.cacheWriteTokens,
  );
  const inputPico = costPico(uncached, price.inputMicros);
  const cachedInputPico = costPico(usage.cachedInputTokens, price.cachedInputMicros);
  const cacheWritePico = costPico(usage.cacheWriteTokens, price.cacheWriteMicros);
  const outputPico = costPico(usage.outputTokens, price.outputMicros);
  return {
    totalPico: inputPico + cachedInputPico + cacheWritePico + outputPico,
    inputPico,
    cachedInputPico,
    cacheWritePico,
    outputPico,
  };
}

/**
 * The most a request can cost before it runs: every input token at the dearest input rate and
 * `maxOutputTokens` of output. Budgets reserve this much and settle to the actual cost after.
 */
export function worstCaseCostPico(
  price: ModelPrice,
  inputTokens: number,
  maxOutputTokens: number,
): bigint {
  const inputRate = price.cacheWriteMicros > price.inputMicros
    ? price.cacheWriteMicros
    : price.inputMicros;
  return costPico(inputTokens, inputRate) + costPico(maxOutputTokens, price.outputMicros);
}
