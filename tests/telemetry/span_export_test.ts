import assert from "node:assert/strict";
import { startOtlpReceiver } from "../helpers/server.ts";

const CHILD = new URL("./fixtures/span_flush.ts", import.meta.url).pathname;

/** The lines a process prints, one at a time. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    rest += text;
    let end;
    while ((end = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, end);
      rest = rest.slice(end + 1);
    }
  }
}

Deno.test("the worker pipeline's forceFlush and shutdown resolve only once the collector holds every span handed over", async () => {
  const receiver = startOtlpReceiver();
  // 100 spans: one batch of 64 leaves as soon as it is full and is still in flight when the flush
  // asks for the other 36, so the flush must wait for a send it did not start.
  const count = 100;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", "--allow-net", "--allow-sys", CHILD, `${count}`],
    env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces` },
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  try {
    const said = lines(child.stdout);
    assert.equal((await said.next()).value, "flushed");
    // Read at once, no polling: the receiver records a request's spans before it answers it.
    const phase = (name: string) => receiver.spans.filter((s) => s.attributes.phase === name);
    assert.equal(phase("flush").length, count, "spans missing when forceFlush resolved");
    await child.stdin.close();
    assert.equal((await said.next()).value, "closed");
    assert.equal(phase("shutdown").length, count, "spans missing when shutdown resolved");
    assert.deepEqual(
      new Set(phase("flush").map((s) => s.attributes.i)).size,
      count,
      "each span arrived once",
    );
    assert.equal((await child.status).code, 0);
  } finally {
    // A failed check leaves the child waiting on its standard input: end it.
    try {
      child.kill();
    } catch {
      // It has exited already.
    }
    await child.status;
    await receiver.stop();
  }
});
