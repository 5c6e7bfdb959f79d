/**
 * Reference tokenizers the tests compare against: the npm `tiktoken` package (OpenAI's Rust
 * tiktoken compiled to WASM, with its own copy of the ranks) and a `tiktoken` instance built on
 * Llama 3's ranks, which is how Meta's reference Llama 3 tokenizer works.
 */

import { get_encoding, Tiktoken } from "tiktoken";
import cl100kRanks from "js-tiktoken/ranks/cl100k_base";
import { encoderFor } from "../../src/tokens/encodings.ts";

const references = new Map<string, Tiktoken>();

/**
 * The WASM tiktoken for `name`, built once per test process. Its `encode_ordinary` treats
 * special-token text as text, the semantics this project counts with.
 */
export function reference(name: "o200k_base" | "cl100k_base" | "llama3"): Tiktoken {
  let ref = references.get(name);
  if (ref === undefined) {
    ref = name === "llama3" ? llama3Reference() : get_encoding(name);
    references.set(name, ref);
  }
  return ref;
}

/** Token ids from the reference as a plain array. */
export function referenceIds(
  name: "o200k_base" | "cl100k_base" | "llama3",
  text: string,
): number[] {
  return Array.from(reference(name).encode_ordinary(text));
}

/**
 * tiktoken (Rust, via WASM) over the Llama 3 ranks with cl100k_base's split pattern — the same
 * construction as Meta's `tokenizer.model` loaded by tiktoken. The ranks are read back from our
 * own vocabulary, so this checks the merge and split logic, not the rank decoding (which the
 * llama3-tokenizer-js comparison covers).
 */
function llama3Reference(): Tiktoken {
  const vocabulary = encoderFor("llama3").vocabulary;
  const lines: string[] = [];
  for (let rank = 0; rank < vocabulary.size; rank++) {
    const bytes = vocabulary.bytesOf(rank);
    if (bytes === undefined) continue;
    let binary = "";
    for (const b of bytes) binary += String.fromCharCode(b);
    lines.push(`${btoa(binary)} ${rank}`);
  }
  return new Tiktoken(lines.join("\n"), {}, cl100kRanks.pat_str);
}
