/**
 * Token counting as the server uses it: one counter per tokenizer, shared by all requests.
 *
 * - `o200k_base` (gpt-4o family, o-series) and `cl100k_base` (gpt-4, gpt-3.5-turbo) are exact
 *   for the models that use them; `cl100k_base` standing in for a model with an unpublished
 *   tokenizer (Claude, Mixtral, …) is marked `estimated`.
 * - `llama3` is exact for Llama 3.x, counted without the `<|begin_of_text|>` /
 *   `<|end_of_text|>` tokens a chat template adds. It uses this project's encoder over the
 *   Llama 3 ranks that llama3-tokenizer-js ships (the library itself is O(n log n) but takes ~5 s
 *   for a megabyte of one letter); the ids equal the library's, except around U+0085 and U+FEFF
 *   where the library's JavaScript `\s` differs from the tiktoken regex Meta's tokenizer uses.
 * - Text that looks like a special token (`<|endoftext|>`, `<|eot_id|>`) is counted as ordinary
 *   text, as tiktoken's `encode_ordinary` does; counting never throws. (A Llama server that parses
 *   special tokens inside prompts counts such text as one token, so there this over-counts.)
 * - Every count is O(n log n) at worst (see `merge.ts`), so no request can stall the server.
 */

import type { BytePairEncoder } from "./bpe.ts";
import { encoderFor } from "./encodings.ts";
import type { Tokenizer } from "./tokenizers.ts";

/** A token counter bound to one tokenizer. */
export interface TokenCounter {
  readonly tokenizer: Tokenizer;
  /** "exact" when the tokenizer is the model's own, "estimated" when it stands in for it. */
  readonly method: "exact" | "estimated";
  /** Number of tokens in `text`. */
  count(text: string): number;
}

/** A chat message in the common form: its text, as the OpenAI chat format counts it. */
export interface ChatMessage {
  readonly role: string;
  readonly content: string;
  readonly name?: string;
}

const counters = new Map<string, TokenCounter>();

/**
 * The counter for `name`, built once and reused. `exact` (default true) says whether the model
 * really uses this tokenizer; pass false when it approximates another model's.
 * @example tokenCounter("o200k_base").count("Explain transformers in 3 sentences") // 6
 */
export function tokenCounter(name: Tokenizer, opts: { exact?: boolean } = {}): TokenCounter {
  const method = opts.exact === false ? "estimated" : "exact";
  const key = `${name}/${method}`;
  let counter = counters.get(key);
  if (counter === undefined) {
    const encoder: BytePairEncoder = encoderFor(name);
    counter = Object.freeze({
      tokenizer: name,
      method,
      count: (text: string) => encoder.count(text),
    });
    counters.set(key, counter);
  }
  return counter;
}

/** Overhead of each message in OpenAI's chat format: `<|start|>`, role and `<|message|>`/end. */
export const TOKENS_PER_MESSAGE = 3;
/** Extra token when a message carries a `name`. */
export const TOKENS_PER_NAME = 1;
/** Every reply is primed with `<|start|>assistant<|message|>`. */
export const TOKENS_PER_REPLY = 3;

/**
 * Prompt tokens of a chat request by OpenAI's published rule for gpt-3.5-turbo-0125, gpt-4,
 * gpt-4o and gpt-4o-mini (OpenAI cookbook, "How to count tokens with tiktoken"): each message
 * costs 3 tokens plus the tokens of its role, content and name (+1 if it has a name), and the
 * reply priming costs 3. The cookbook's example conversation gives 129 with cl100k_base and 124
 * with o200k_base, both confirmed against the API there. For other model families the template
 * differs, so the result is an estimate of the same shape. Tools and images are not counted.
 */
export function countChatTokens(counter: TokenCounter, messages: readonly ChatMessage[]): number {
  let total = TOKENS_PER_REPLY;
  for (const message of messages) {
    total += TOKENS_PER_MESSAGE + counter.count(message.role) + counter.count(message.content);
    if (message.name !== undefined) total += TOKENS_PER_NAME + counter.count(message.name);
  }
  return total;
}
