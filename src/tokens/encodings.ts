/**
 * The encoders this server counts with, each built once per process on first use.
 *
 * Rank data comes from npm packages: js-tiktoken's `ranks/<name>` modules for OpenAI's
 * encodings and llama3-tokenizer-js's vocabulary for Llama 3. They are loaded with a synchronous
 * `require` only when an encoding is first asked for, so start-up does not pay for encodings a
 * deployment never uses (llama3-tokenizer-js alone takes ~0.4 s to import, because it builds its
 * own merge tables). A caller that wants the cost paid before the first request calls
 * `encoderFor` at start-up.
 */

import { createRequire } from "node:module";
import type { Llama3Tokenizer } from "llama3-tokenizer-js";
// Type-only imports put the rank modules in the module graph, so they are cached and locked
// like any dependency even though they are only required at run time.
import type o200kRanks from "js-tiktoken/ranks/o200k_base";
import type cl100kRanks from "js-tiktoken/ranks/cl100k_base";
import { BytePairEncoder } from "./bpe.ts";
import { compilePretokenizer } from "./pretokenizer.ts";
import { Vocabulary } from "./vocabulary.ts";
import type { Tokenizer } from "./tokenizers.ts";

type TiktokenRanks = typeof o200kRanks | typeof cl100kRanks;

/**
 * Llama 3's ordinary vocabulary is ids 0..127,999; ids from 128,000 are its 256 special tokens,
 * which prompt text never produces here (special-token text is counted as text).
 */
const LLAMA3_ORDINARY_TOKENS = 128_000;

const require = createRequire(import.meta.url);
const built = new Map<Tokenizer, BytePairEncoder>();

/** The shared encoder for `name`, built on first call and reused for the process lifetime. */
export function encoderFor(name: Tokenizer): BytePairEncoder {
  let encoder = built.get(name);
  if (encoder === undefined) {
    encoder = build(name);
    built.set(name, encoder);
  }
  return encoder;
}

function build(name: Tokenizer): BytePairEncoder {
  switch (name) {
    case "o200k_base":
    case "cl100k_base": {
      const ranks = tiktokenRanks(name);
      return new BytePairEncoder(
        Vocabulary.fromTiktokenRanks(ranks.bpe_ranks),
        compilePretokenizer(ranks.pat_str),
      );
    }
    case "llama3":
      // Meta's Llama 3 tokenizer is tiktoken with cl100k_base's split pattern and its own
      // 128,000 ranks (token id = rank); tests check this against llama3-tokenizer-js.
      return new BytePairEncoder(
        Vocabulary.fromTokens(llama3Tokens()),
        compilePretokenizer(tiktokenRanks("cl100k_base").pat_str),
      );
  }
}

function tiktokenRanks(name: "o200k_base" | "cl100k_base"): TiktokenRanks {
  // Literal specifiers, so the module graph (and deno.lock) knows both files.
  const module = name === "o200k_base"
    ? require("js-tiktoken/ranks/o200k_base")
    : require("js-tiktoken/ranks/cl100k_base");
  return (module.default ?? module) as TiktokenRanks;
}

/** Llama 3 token bytes by rank, decoded from llama3-tokenizer-js's byte-level strings. */
function llama3Tokens(): Uint8Array[] {
  const module = require("llama3-tokenizer-js") as { default: Llama3Tokenizer };
  const vocab = module.default.vocabById;
  if (vocab.length < LLAMA3_ORDINARY_TOKENS) {
    throw new Error(`llama3 vocabulary has ${vocab.length} entries, expected 128,000 or more`);
  }
  const unitToByte = byteLevelDecoding();
  const tokens: Uint8Array[] = new Array(LLAMA3_ORDINARY_TOKENS);
  for (let id = 0; id < LLAMA3_ORDINARY_TOKENS; id++) {
    const text = vocab[id];
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) {
      const b = unitToByte.get(text.charCodeAt(i));
      if (b === undefined) throw new Error(`llama3 token ${id} is not byte-level text`);
      bytes[i] = b;
    }
    tokens[id] = bytes;
  }
  return tokens;
}

/**
 * Inverse of GPT-2's byte-level alphabet, which Hugging Face tokenizer files (and so
 * llama3-tokenizer-js) use to write token bytes as text: printable Latin-1 bytes (33–126,
 * 161–172, 174–255) stand for themselves, and the other 68 bytes, in increasing order, are
 * written as U+0100, U+0101, ….
 */
function byteLevelDecoding(): Map<number, number> {
  const map = new Map<number, number>();
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    map.set(printable ? b : 256 + shifted++, b);
  }
  return map;
}
