/** Which tokenizer counts a model's text locally, and whether that count is exact or estimated. */
import type { ModelPrice } from "../pricing/pricing.ts";
import { type TokenCounter, tokenCounter } from "../tokens/count.ts";

/**
 * The local token counter of a model: its own encoding when the price table names one it really
 * uses (OpenAI's o200k_base/cl100k_base for OpenAI models, Llama 3's vocabulary), else cl100k_base
 * as an estimate. Unpriced models are always estimated with cl100k_base.
 */
export function counterFor(price: ModelPrice | undefined): TokenCounter {
  if (!price) return tokenCounter("cl100k_base", { exact: false });
  if (price.tokenizer === "llama3") return tokenCounter("llama3");
  return tokenCounter(price.tokenizer, { exact: price.provider === "openai" });
}
