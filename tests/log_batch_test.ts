import assert from "node:assert/strict";
import { batchedWriter } from "../src/log_batch.ts";

function collecting() {
  const writes: string[] = [];
  const decoder = new TextDecoder();
  return { writes, sink: (bytes: Uint8Array) => writes.push(decoder.decode(bytes)) };
}

Deno.test("lines logged in one turn are written together, in order, when the turn ends", async () => {
  const { writes, sink } = collecting();
  const out = batchedWriter(sink);
  out.write('{"msg":"a"}');
  out.write('{"msg":"b"}');
  assert.deepEqual(writes, []);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(writes, ['{"msg":"a"}\n{"msg":"b"}\n']);
  out.write('{"msg":"c"}');
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(writes, ['{"msg":"a"}\n{"msg":"b"}\n', '{"msg":"c"}\n']);
});

Deno.test("flush writes the pending lines at once and leaves nothing scheduled", () => {
  const { writes, sink } = collecting();
  const out = batchedWriter(sink);
  out.write("one");
  out.flush();
  out.flush();
  assert.deepEqual(writes, ["one\n"]);
});

Deno.test("a batch is written early once the pending limit is reached", () => {
  const { writes, sink } = collecting();
  const out = batchedWriter(sink, 8);
  out.write("1234");
  out.write("5678");
  assert.deepEqual(writes, ["1234\n5678\n"]);
  out.write("x");
  out.flush();
  assert.deepEqual(writes, ["1234\n5678\n", "x\n"]);
});
