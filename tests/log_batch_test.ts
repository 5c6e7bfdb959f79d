import assert from "node:assert/strict";
import { batchedWriter } from "../src/log_batch.ts";

function collecting() {
  const writes: string[] = [];
  const decoder = new TextDecoder();
  return { writes, sink: (bytes: Uint8Array) => writes.push(decoder.decode(bytes)) };
}

async function until(done: () => boolean, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a write");
    await new Promise((r) => setTimeout(r, 1));
  }
}

Deno.test("lines logged together are written in one write, in order, within the flush interval", async () => {
  const { writes, sink } = collecting();
  const out = batchedWriter(sink, 64 * 1024, 5);
  out.write('{"msg":"a"}');
  out.write('{"msg":"b"}');
  assert.deepEqual(writes, []);
  await until(() => writes.length > 0);
  assert.deepEqual(writes, ['{"msg":"a"}\n{"msg":"b"}\n']);
  out.write('{"msg":"c"}');
  await until(() => writes.length > 1);
  assert.deepEqual(writes, ['{"msg":"a"}\n{"msg":"b"}\n', '{"msg":"c"}\n']);
  out.flush();
});

Deno.test("the flush interval stops once a tick finds nothing to write", async () => {
  const { writes, sink } = collecting();
  const out = batchedWriter(sink, 64 * 1024, 5);
  out.write("one");
  await until(() => writes.length > 0);
  // The test's sanitizer fails it if the interval is still scheduled when it ends.
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(writes, ["one\n"]);
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
