/** The tokenizers this server counts with: what a price file may name, what `tokens/` builds. */

/** Every tokenizer name, in the order a price file's schema lists them. */
export const TOKENIZERS = ["o200k_base", "cl100k_base", "llama3"] as const;
/** A tokenizer name from {@link TOKENIZERS}. */
export type Tokenizer = typeof TOKENIZERS[number];
