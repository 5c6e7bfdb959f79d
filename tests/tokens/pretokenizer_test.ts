import assert from "node:assert/strict";
import o200kRanks from "js-tiktoken/ranks/o200k_base";
import cl100kRanks from "js-tiktoken/ranks/cl100k_base";
import { compilePretokenizer, WHITE_SPACE_CLASS } from "../../src/tokens/pretokenizer.ts";

/** Splits `text` into pieces with a compiled pre-tokenizer, as the encoder walks it. */
function pieces(pattern: RegExp, text: string): string[] {
  const out: string[] = [];
  for (let pos = 0; pos < text.length;) {
    pattern.lastIndex = pos;
    assert.ok(pattern.test(text), `no piece at ${pos}`);
    assert.ok(pattern.lastIndex > pos, `empty piece at ${pos}`);
    out.push(text.slice(pos, pattern.lastIndex));
    pos = pattern.lastIndex;
  }
  return out;
}

const o200k = compilePretokenizer(o200kRanks.pat_str);
const cl100k = compilePretokenizer(cl100kRanks.pat_str);

Deno.test("the compiled pattern is sticky, Unicode-aware, and has no \\s, \\S or captures", () => {
  for (const re of [o200k, cl100k]) {
    assert.ok(re.sticky && re.unicode && !re.global);
    assert.ok(!/\\[sS]/.test(re.source));
    assert.ok(!/\((?!\?)/.test(re.source.replace(/\\\(/g, "")));
  }
});

Deno.test("\\s becomes Unicode White_Space inside and outside classes", () => {
  const re = compilePretokenizer("[^\\s\\p{L}]+|\\s+(?!\\S)|(a)");
  assert.equal(
    re.source,
    `[^${WHITE_SPACE_CLASS}\\p{L}]+|[${WHITE_SPACE_CLASS}]+(?![^${WHITE_SPACE_CLASS}])|(?:a)`,
  );
  const ws = new RegExp(`^[${WHITE_SPACE_CLASS}]$`, "u");
  assert.ok(ws.test("\u0085") && ws.test("\u3000") && ws.test("\u2029") && ws.test("\t"));
  assert.ok(!ws.test("\ufeff") && !ws.test("\u180e") && !ws.test("\u200b"));
});

Deno.test("\\S inside a character class is refused rather than mistranslated", () => {
  assert.throws(() => compilePretokenizer("[\\S]"), /not supported/);
});

Deno.test("o200k_base splits as tiktoken does around U+0085 and U+FEFF", () => {
  assert.deepEqual(pieces(o200k, "   \u0085x"), ["   ", "\u0085x"]);
  assert.deepEqual(pieces(o200k, "   \ufeffx"), ["  ", " \ufeff", "x"]);
});

Deno.test("o200k_base keeps case-variant contractions with their word", () => {
  assert.deepEqual(pieces(o200k, "IT'S we'Re"), ["IT'S", " we'Re"]);
  assert.deepEqual(pieces(cl100k, "IT'S we'Re"), ["IT", "'S", " we", "'Re"]);
});

Deno.test("every position of pathological megabyte inputs is covered by exactly one piece", () => {
  const cases: Record<string, string> = {
    spacesThenLetter: " ".repeat(1_000_000) + "x",
    spacesThenNewline: " ".repeat(1_000_000) + "\n",
    upper: "A".repeat(1_000_000) + "b",
    titlecase: "ǅ".repeat(500_000),
    marks: "a" + "\u0301".repeat(1_000_000),
    punctuation: "!".repeat(1_000_000) + "\n".repeat(10),
    alternating: " \n".repeat(500_000),
    spaceLetter: " a".repeat(500_000),
    digits: "7".repeat(1_000_000),
    surrogates: "\ud800".repeat(500_000),
  };
  for (const [label, text] of Object.entries(cases)) {
    for (const re of [o200k, cl100k]) {
      assert.equal(pieces(re, text).join("").length, text.length, label);
    }
  }
});
