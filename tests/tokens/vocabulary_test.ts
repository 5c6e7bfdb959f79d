import assert from "node:assert/strict";
import { encoderFor } from "../../src/tokens/encodings.ts";
import { Vocabulary } from "../../src/tokens/vocabulary.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("js-tiktoken rank lines parse with their offsets, leaving holes absent", () => {
  // "a" "b" at ranks 0-1, then "ab" "abc" at ranks 5-6.
  const vocabulary = Vocabulary.fromTiktokenRanks("x 0 YQ== Yg==\ny 5 YWI= YWJj\n");
  assert.equal(vocabulary.size, 7);
  assert.equal(vocabulary.tokenCount, 4);
  assert.equal(vocabulary.rank(bytes("ab"), 0, 2), 5);
  assert.equal(vocabulary.rank(bytes("abc"), 0, 3), 6);
  assert.equal(vocabulary.rank(bytes("ba"), 0, 2), -1);
  assert.equal(vocabulary.bytesOf(3), undefined);
  assert.deepEqual(vocabulary.bytesOf(6), bytes("abc"));
});

Deno.test("rank looks up any span of a larger buffer", () => {
  const vocabulary = Vocabulary.fromTokens([bytes("a"), bytes("b"), bytes("ab")]);
  const buffer = bytes("xxabyy");
  assert.equal(vocabulary.rank(buffer, 2, 4), 2);
  assert.equal(vocabulary.rank(buffer, 3, 4), 1);
  assert.equal(vocabulary.rank(buffer, 2, 5), -1);
  assert.equal(vocabulary.rank(buffer, 0, 0), -1);
});

Deno.test("a byte string listed twice keeps its lowest rank", () => {
  const vocabulary = Vocabulary.fromTokens([bytes("a"), bytes("a")]);
  assert.equal(vocabulary.rank(bytes("a"), 0, 1), 0);
});

Deno.test("malformed rank data is refused", () => {
  assert.throws(() => Vocabulary.fromTiktokenRanks("x zz YQ=="), /bad rank line/);
  assert.throws(() => Vocabulary.fromTiktokenRanks("x 0 Y*=="), /bad base64/);
});

Deno.test("every token of every shipped vocabulary looks up to its own rank", () => {
  const sizes = { o200k_base: 199_998, cl100k_base: 100_256, llama3: 128_000 } as const;
  for (const [name, size] of Object.entries(sizes)) {
    const vocabulary = encoderFor(name as keyof typeof sizes).vocabulary;
    assert.equal(vocabulary.tokenCount, size, name);
    for (let rank = 0; rank < vocabulary.size; rank++) {
      const token = vocabulary.bytesOf(rank);
      if (token === undefined) assert.fail(`${name} lacks rank ${rank}`);
      assert.equal(vocabulary.rank(token, 0, token.length), rank, `${name} rank ${rank}`);
    }
  }
});
