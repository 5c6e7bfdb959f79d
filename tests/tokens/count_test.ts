import assert from "node:assert/strict";
import llama3Tokenizer from "llama3-tokenizer-js";
import { type ChatMessage, countChatTokens, tokenCounter } from "../../src/tokens/count.ts";
import { encoderFor } from "../../src/tokens/encodings.ts";
import { CORPORA } from "../../scripts/bench/corpora.ts";
import { referenceIds } from "./reference.ts";

Deno.test("o200k_base counts the tutorial's prompt as 6 tokens and its reply as 10", () => {
  const counter = tokenCounter("o200k_base");
  assert.equal(counter.count("Explain transformers in 3 sentences"), 6);
  assert.equal(counter.count("Response to: Explain transformers in 3 sentences..."), 10);
});

Deno.test("counters are cached per tokenizer and method, and say which method they use", () => {
  const exact = tokenCounter("cl100k_base", { exact: true });
  const estimated = tokenCounter("cl100k_base", { exact: false });
  assert.equal(tokenCounter("cl100k_base"), exact);
  assert.equal(tokenCounter("cl100k_base", { exact: false }), estimated);
  assert.equal(exact.method, "exact");
  assert.equal(estimated.method, "estimated");
  assert.equal(estimated.tokenizer, "cl100k_base");
  assert.equal(tokenCounter("llama3").method, "exact");
  assert.equal(exact.count("same text, same count"), estimated.count("same text, same count"));
  assert.ok(Object.isFrozen(exact));
});

Deno.test("a prompt made of special-token text is counted, never rejected", () => {
  for (const name of ["o200k_base", "cl100k_base", "llama3"] as const) {
    const counter = tokenCounter(name);
    assert.ok(counter.count("<|endoftext|>") > 1, name);
    assert.ok(counter.count("<|eot_id|><|begin_of_text|>") > 2, name);
  }
});

/** OpenAI cookbook, "How to count tokens with tiktoken", section 6. */
const COOKBOOK_MESSAGES: ChatMessage[] = [
  {
    role: "system",
    content:
      "You are a helpful, pattern-following assistant that translates corporate jargon into plain English.",
  },
  {
    role: "system",
    name: "example_user",
    content: "New synergies will help drive top-line growth.",
  },
  {
    role: "system",
    name: "example_assistant",
    content: "Things working well together will increase revenue.",
  },
  {
    role: "system",
    name: "example_user",
    content:
      "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
  },
  {
    role: "system",
    name: "example_assistant",
    content: "Let's talk later when we're less busy about how to do better.",
  },
  {
    role: "user",
    content:
      "This late pivot means we don't have time to boil the ocean for the client deliverable.",
  },
];

Deno.test("chat overhead matches OpenAI's published figures: 129 for gpt-4, 124 for gpt-4o", () => {
  assert.equal(countChatTokens(tokenCounter("cl100k_base"), COOKBOOK_MESSAGES), 129);
  assert.equal(countChatTokens(tokenCounter("o200k_base"), COOKBOOK_MESSAGES), 124);
});

Deno.test("chat overhead is 3 per message, role and name counted, 1 per name, 3 for the reply", () => {
  const counter = tokenCounter("o200k_base");
  const prompt = "Explain transformers in 3 sentences";
  // "user" is one token, the prompt six.
  assert.equal(countChatTokens(counter, [{ role: "user", content: prompt }]), 3 + 1 + 6 + 3);
  assert.equal(
    countChatTokens(counter, [{ role: "user", content: prompt, name: "bob" }]),
    3 + 1 + 6 + 1 + counter.count("bob") + 3,
  );
  assert.equal(countChatTokens(counter, []), 3);
});

/**
 * llama3-tokenizer-js splits with JavaScript's `\s`, which (unlike Meta's tiktoken-based
 * tokenizer) treats U+FEFF as whitespace and U+0085 as not; and it reads special-token text as
 * special tokens. Outside those two cases it is the Llama 3 reference.
 */
function comparableWithLlama3Lib(text: string): string {
  return text.replace(/[\u0085\ufeff]/g, "_");
}

for (const [corpus, generate] of Object.entries(CORPORA)) {
  if (corpus === "specialLooking") continue;
  Deno.test(`llama3 ids equal llama3-tokenizer-js (no BOS/EOS) on ${corpus}`, () => {
    const text = comparableWithLlama3Lib(generate(20_000, 21));
    const expected = llama3Tokenizer.encode(text, { bos: false, eos: false });
    assert.deepEqual(encoderFor("llama3").encode(text), expected);
    assert.equal(tokenCounter("llama3").count(text), expected.length);
  });
}

Deno.test("llama3 ids equal tiktoken over the Llama 3 ranks on every corpus, as-is", () => {
  for (const [corpus, generate] of Object.entries(CORPORA)) {
    const text = generate(20_000, 22);
    assert.deepEqual(encoderFor("llama3").encode(text), referenceIds("llama3", text), corpus);
  }
});

Deno.test("llama3 counts 100 KB of one repeated letter like llama3-tokenizer-js", () => {
  // The library is O(n log n) too (a priority queue), but ~5 s for a megabyte; ours is the
  // same count at the cost of an ordinary request.
  const text = "a".repeat(100_000);
  assert.equal(
    tokenCounter("llama3").count(text),
    llama3Tokenizer.encode(text, { bos: false, eos: false }).length,
  );
});
