/**
 * The price file's schema (docs/pricing.md): rates in USD per 1M tokens, turned into integer
 * micro-dollars as they are read, so that every later sum is exact. Shared by the loader and by
 * `deno task prices:check`.
 */
import { z } from "zod";
import { parseRateMicros } from "./money.ts";
import { TOKENIZERS } from "../tokens/tokenizers.ts";

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

/** One set of rates. A missing cache rate bills at the set's input rate (a 1-hour write at its
 * 5-minute one): never less than the table states. */
const rateFields = {
  input: rate,
  cached_input: rate.optional(),
  cache_write: rate.optional(),
  cache_write_1h: rate.optional(),
  output: rate,
};

const longContextSchema = z.object({
  threshold_input_tokens: z.number().int().positive(),
  ...rateFields,
}).strict();

const tierSchema = z.object({ ...rateFields, long_context: longContextSchema.optional() })
  .strict();

/** Names the model's own rates go by; a service tier may not take them. */
const STANDARD_TIER_NAMES = ["default", "standard", "auto"];

const modelSchema = z.object({
  provider: z.string().min(1),
  tokenizer: z.enum(TOKENIZERS),
  ...rateFields,
  long_context: longContextSchema.optional(),
  service_tiers: z.record(
    z.string().regex(/^[a-z][a-z0-9_]*$/, "must be a lower-case tier name such as flex")
      .refine((name) => !STANDARD_TIER_NAMES.includes(name), {
        message: "is the model's own rates; list only the other tiers",
      }),
    tierSchema,
  ).default({}),
  // 0 for a model that writes no text (an embeddings model).
  max_output_tokens: z.number().int().nonnegative(),
  aliases: z.array(z.string().min(1)).default([]),
}).strict().superRefine((model, ctx) => {
  // Above a model's long-context threshold every tier must say what it bills: falling back to
  // the tier's short-context rates would under-bill exactly the dearest requests.
  if (!model.long_context) return;
  for (const [name, tier] of Object.entries(model.service_tiers)) {
    if (!tier.long_context) {
      ctx.addIssue({
        code: "custom",
        path: ["service_tiers", name, "long_context"],
        message: "is required because the model has a long_context tier",
      });
    }
  }
});

/** A calendar date `YYYY-MM-DD` that exists. */
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date, YYYY-MM-DD").refine(
  (text) => {
    const date = new Date(`${text}T00:00:00Z`);
    return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(text);
  },
  { message: "must be a date that exists" },
);

/** The whole price file. */
export const priceFileSchema = z.object({
  pricing_version: z.string().min(1),
  effective_date: isoDate,
  currency: z.literal("USD"),
  unit: z.string().optional(),
  models: z.record(z.string().min(1), modelSchema).refine((m) => Object.keys(m).length > 0, {
    message: "must price at least one model",
  }),
}).strict();

/** A validated price file, rates in micro-dollars per 1M tokens. */
export type PriceFile = z.output<typeof priceFileSchema>;
/** One model of a validated price file. */
export type PriceFileModel = PriceFile["models"][string];
/** A rate set of a validated price file with its long-context tier: a model's own, or a tier's. */
export type PriceFileTier = z.output<typeof tierSchema>;
/** One set of rates of a validated price file. */
export type PriceFileRates = Omit<PriceFileTier, "long_context">;
