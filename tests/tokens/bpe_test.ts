import assert from "node:assert/strict";
import { Tiktoken as JsTiktoken } from "js-tiktoken/lite";
import o200kRanks from "js-tiktoken/ranks/o200k_base";
import { encoderFor } from "../../src/tokens/encodings.ts";
import { CORPORA, Rng } from "../../scripts/bench/corpora.ts";
import { reference, referenceIds } from "./reference.ts";

const ENCODINGS = ["o200k_base", "cl100k_base"] as const;

/** Asserts equal id sequences, reporting the first difference instead of two huge arrays. */
function assertSameIds(actual: number[], expected: number[], label: string): void {
  const n = Math.max(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(
        `${label}: token ${i} differs: ${JSON.stringify(actual.slice(i, i + 5))} vs reference ` +
          `${JSON.stringify(expected.slice(i, i + 5))}`,
      );
    }
  }
}

/** The concatenated bytes of `ids` (what a decoder would produce). */
function bytesOfIds(name: (typeof ENCODINGS)[number], ids: number[]): Uint8Array {
  const vocabulary = encoderFor(name).vocabulary;
  const parts = ids.map((id) => vocabulary.bytesOf(id) ?? assert.fail(`unknown id ${id}`));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

for (const name of ENCODINGS) {
  for (const [corpus, generate] of Object.entries(CORPORA)) {
    Deno.test(`${name}: encode and count equal tiktoken encode_ordinary on ${corpus}`, () => {
      const encoder = encoderFor(name);
      for (const seed of [11, 12]) {
        const text = generate(20_000, seed);
        const expected = referenceIds(name, text);
        assertSameIds(encoder.encode(text), expected, `${corpus} seed ${seed}`);
        // Twice: the first count fills the piece cache, the second is served from it.
        assert.equal(encoder.count(text), expected.length);
        assert.equal(encoder.count(text), expected.length);
      }
    });
  }

  Deno.test(`${name}: long pieces merge like tiktoken (queue path)`, () => {
    const encoder = encoderFor(name);
    const rng = new Rng(99);
    const alphabets = [
      "ab",
      "aab",
      "abc",
      "ing",
      "the",
      "01",
      "!?",
      "日本",
      "😀👍",
      "Ab",
      "ЖЖж",
      "é",
    ];
    for (let t = 0; t < 120; t++) {
      const alphabet = Array.from(rng.pick(alphabets));
      let text = "";
      const length = 40 + rng.int(2500);
      while (text.length < length) text += rng.pick(alphabet);
      assertSameIds(encoder.encode(text), referenceIds(name, text), JSON.stringify(text));
      const unit = rng.pick(["a", "z", "ab", "abc", " ", "!", "日", "😀", "é", "x1", "A", "Ж"]);
      const repeated = unit.repeat(1 + rng.int(1500));
      assert.equal(encoder.count(repeated), referenceIds(name, repeated).length, unit);
    }
  });

  Deno.test(`${name}: special-token text is ordinary text and never throws`, () => {
    const text = "<|endoftext|> ignore that <|endofprompt|><|im_start|>system<|im_end|>";
    // tiktoken's default encode refuses special-token text; counting a prompt must not.
    assert.throws(() => reference(name).encode(text));
    assertSameIds(encoderFor(name).encode(text), referenceIds(name, text), "special");
    assert.equal(encoderFor(name).count(text), referenceIds(name, text).length);
  });

  Deno.test(`${name}: lone surrogates count as U+FFFD, like the reference`, () => {
    const cases = ["a\ud800b", "\udc00", "x\udbff\udbff y", "\ud83d", "end\ud83d", "\ude00\ud83d"];
    for (const text of cases) {
      assertSameIds(encoderFor(name).encode(text), referenceIds(name, text), JSON.stringify(text));
      const replaced = text.replace(/[\ud800-\udfff]/g, "\ufffd");
      assert.equal(encoderFor(name).count(text), encoderFor(name).count(replaced));
    }
  });

  Deno.test(`${name}: U+0085 is whitespace and U+FEFF is not, as in tiktoken's regex`, () => {
    for (
      const text of ["   \u0085x", "   \ufeffx", "a\u0085\u0085 b", "\ufeff\ufeff\n", "x \u0085"]
    ) {
      assertSameIds(encoderFor(name).encode(text), referenceIds(name, text), JSON.stringify(text));
    }
  });

  Deno.test(`${name}: megabyte worst cases decode back to their exact bytes`, () => {
    const encoder = encoderFor(name);
    const rng = new Rng(5);
    let random = "";
    while (random.length < 1_000_000) random += String.fromCharCode(0x21 + rng.int(94));
    const texts = {
      letter: "a".repeat(1_000_000),
      space: " ".repeat(1_000_000) + "x",
      random: random,
      emoji: "😀".repeat(250_000),
      cjk: "的是".repeat(170_000),
    };
    for (const [label, text] of Object.entries(texts)) {
      const ids = encoder.encode(text);
      assert.deepEqual(bytesOfIds(name, ids), new TextEncoder().encode(text), label);
      assert.equal(encoder.count(text), ids.length, label);
    }
    // Buffers sized for the megabyte pieces are not kept; small pieces still encode right.
    assertSameIds(encoder.encode("short again"), referenceIds(name, "short again"), "after");
  });

  Deno.test(`${name}: piece cache stays correct past a generation rollover`, () => {
    const encoder = encoderFor(name);
    const words: string[] = [];
    // Multi-token pieces of 8+ bytes: the kind the cache keeps.
    for (let i = 0; i < 80_000; i++) words.push(`qzx${i.toString(36)}vvk`);
    const text = words.join(" ");
    const expected = referenceIds(name, text).length;
    assert.equal(encoder.count(text), expected);
    assert.equal(encoder.count(text), expected);
  });
}

Deno.test("js-tiktoken splits U+0085 and U+FEFF differently, which is why the pattern is rewritten", () => {
  const js = new JsTiktoken(o200kRanks);
  const text = "   \u0085x";
  assert.notDeepEqual(js.encode(text, [], []), referenceIds("o200k_base", text));
  assert.deepEqual(encoderFor("o200k_base").encode(text), referenceIds("o200k_base", text));
});

Deno.test("an empty string is zero tokens", () => {
  for (const name of ENCODINGS) {
    assert.equal(encoderFor(name).count(""), 0);
    assert.deepEqual(encoderFor(name).encode(""), []);
  }
});

Deno.test("the same encoder is returned for the same name", () => {
  assert.equal(encoderFor("o200k_base"), encoderFor("o200k_base"));
  assert.notEqual(encoderFor("o200k_base"), encoderFor("cl100k_base"));
});
