import assert from "node:assert/strict";
import { encodeUtf8Into, maxUtf8Bytes } from "../../src/tokens/utf8.ts";
import { randomUnicode } from "../../scripts/bench/corpora.ts";

function encode(text: string, start = 0, end = text.length): Uint8Array {
  const out = new Uint8Array(maxUtf8Bytes(end - start));
  return out.slice(0, encodeUtf8Into(text, start, end, out));
}

Deno.test("UTF-8 bytes equal TextEncoder's, lone surrogates included", () => {
  const encoder = new TextEncoder();
  for (let seed = 1; seed <= 20; seed++) {
    const text = randomUnicode(5_000, seed);
    assert.deepEqual(encode(text), encoder.encode(text), `seed ${seed}`);
  }
  for (
    const text of ["\ud800", "\udc00", "\ud83d\ude00", "\ude00\ud83d", "a\udbff", "\u07ff\u0800"]
  ) {
    assert.deepEqual(encode(text), encoder.encode(text), JSON.stringify(text));
  }
});

Deno.test("a slice is encoded on its own: a pair cut by the slice end is a lone surrogate", () => {
  const text = "x😀y";
  assert.deepEqual(encode(text, 1, 3), new TextEncoder().encode("😀"));
  assert.deepEqual(encode(text, 1, 2), new TextEncoder().encode("\ufffd"));
});

Deno.test("maxUtf8Bytes bounds the worst case of three bytes per UTF-16 unit", () => {
  const text = "\uffff".repeat(10) + "\ud800".repeat(10);
  assert.equal(encode(text).length, maxUtf8Bytes(text.length));
});
