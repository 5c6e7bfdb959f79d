/// <reference lib="deno.worker" />
// A reader for ring_test.ts: sleeps on the ring (up to 10 s) and reports how long it slept.
import { ByteRing } from "../../src/ledger/ring.ts";

self.onmessage = (event: MessageEvent<SharedArrayBuffer>) => {
  const ring = new ByteRing(event.data);
  self.postMessage("sleeping");
  const started = performance.now();
  ring.wait(10_000);
  self.postMessage({ sleptMs: performance.now() - started, records: ring.readAll().length });
};
