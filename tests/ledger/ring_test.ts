import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteRing } from "../../src/ledger/ring.ts";

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill % 256);

Deno.test("byte ring: records come out whole and in order through many wrap-arounds, and a full ring refuses until read", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 120 }), { maxLength: 300 }), (sizes) => {
      const ring = ByteRing.create(512);
      const reader = new ByteRing(ring.buffer);
      const out: Uint8Array[] = [];
      sizes.forEach((size, i) => {
        const record = bytes(size, i);
        if (!ring.write(record)) {
          out.push(...reader.readAll());
          // An emptied ring always has room for a record of at most half its size.
          assert.ok(ring.write(record), `size ${size} refused by an empty ring`);
        }
      });
      out.push(...reader.readAll());
      assert.deepEqual(out, sizes.map((size, i) => bytes(size, i)));
      assert.deepEqual(reader.readAll(), []);
    }),
  );
});

Deno.test("byte ring: text records are encoded as UTF-8 straight into the ring, multi-byte characters whole", () => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ unit: "binary", maxLength: 40 }), { maxLength: 200 }),
      (texts) => {
        const ring = ByteRing.create(1024);
        const out: string[] = [];
        const decoder = new TextDecoder();
        const drain = () => out.push(...ring.readAll().map((r) => decoder.decode(r)));
        for (const text of texts) {
          if (!ring.writeText(text)) {
            drain();
            assert.ok(ring.writeText(text), `${JSON.stringify(text)} refused by an empty ring`);
          }
        }
        drain();
        // Lone surrogates become U+FFFD, as TextEncoder makes them.
        assert.deepEqual(out, texts.map((t) => decoder.decode(new TextEncoder().encode(t))));
      },
    ),
  );
});

Deno.test("byte ring: a record too large to always fit is refused with a RangeError", () => {
  const ring = ByteRing.create(256);
  assert.throws(() => ring.write(new Uint8Array(200)), RangeError);
  assert.ok(ring.write(new Uint8Array(100)));
});

Deno.test("byte ring: a wait returns at once when a record is waiting, and after its timeout when none is", () => {
  const ring = ByteRing.create(256);
  ring.write(bytes(3, 1));
  let started = performance.now();
  ring.wait(2_000);
  assert.ok(performance.now() - started < 500);
  ring.readAll();
  started = performance.now();
  ring.wait(30);
  assert.ok(performance.now() - started >= 25);
  assert.equal(ring.closed, false);
  ring.close();
  assert.equal(ring.closed, true);
  started = performance.now();
  ring.wait(2_000);
  assert.ok(performance.now() - started < 500, "a closed ring does not hold its reader");
});

Deno.test("byte ring: a write wakes a reader sleeping on another thread at once, not at its timeout", async () => {
  const ring = ByteRing.create(256);
  const worker = new Worker(new URL("./ring_sleeper_worker.ts", import.meta.url), {
    type: "module",
  });
  try {
    const next = () => new Promise((resolve) => worker.onmessage = (e) => resolve(e.data));
    let answer = next();
    worker.postMessage(ring.buffer);
    assert.equal(await answer, "sleeping");
    answer = next();
    // Let it fall asleep, then write one record.
    await new Promise((resolve) => setTimeout(resolve, 100));
    ring.write(bytes(5, 7));
    const woke = await answer as { sleptMs: number; records: number };
    assert.equal(woke.records, 1);
    assert.ok(woke.sleptMs < 2_000, `slept ${woke.sleptMs} ms of its 10 s timeout`);
  } finally {
    worker.terminate();
  }
});
