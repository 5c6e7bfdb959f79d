import assert from "node:assert/strict";
import { TextTally } from "../../src/gateway/text_tally.ts";

const encoder = new TextEncoder();

Deno.test("the text tally decodes escapes, and drops what an event added when it is discarded", () => {
  const tally = new TextTally();
  const escaped = encoder.encode('a\\"b\\\\c\\u00e9\\ud83d\\ude00');
  tally.pushRun(escaped, 0, escaped.length);
  tally.commit();
  tally.push(0x78);
  tally.discard();
  tally.append('\n"x"');
  assert.equal(tally.text(), 'a"b\\cé😀\n"x"');
  const big = new TextTally();
  const run = encoder.encode("y".repeat(1000));
  big.pushRun(run, 0, run.length);
  big.push(0x7a);
  assert.equal(big.commit(), true);
  assert.equal(big.commit(), false);
  assert.equal(big.text(), `${"y".repeat(1000)}z`);
});
