/**
 * Worst-case inputs against the reference. Kept apart from bpe_test.ts because the WASM
 * reference is quadratic on them, so this file is the slowest of the token tests and runs in
 * parallel with the rest. Correctness only: timings are `scripts/bench/tokenizer.ts`'s job.
 */

import assert from "node:assert/strict";
import { encoderFor } from "../../src/tokens/encodings.ts";
import { reference, referenceIds } from "./reference.ts";

Deno.test("o200k_base: 100 KB of one repeated letter counts the same as tiktoken", () => {
  // Correctness only. The WASM reference is quadratic here (~12 s on this machine), which is
  // the denial of service this encoder exists to avoid; it is still the authority on the count.
  const text = "a".repeat(100_000);
  assert.equal(
    encoderFor("o200k_base").count(text),
    reference("o200k_base").encode_ordinary(text).length,
  );
});

Deno.test("cl100k_base: 30 KB of one repeated letter counts the same as tiktoken", () => {
  const text = "z".repeat(30_000);
  assert.equal(encoderFor("cl100k_base").count(text), referenceIds("cl100k_base", text).length);
});
