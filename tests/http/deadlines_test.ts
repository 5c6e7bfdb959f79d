import assert from "node:assert/strict";
import { clearDeadline, setDeadline, SWEEP_MS } from "../../src/http/deadlines.ts";
import { eventually, within } from "../helpers/poll.ts";

Deno.test("a deadline fires once, never before its time and at most one sweep after it", async () => {
  const started = performance.now();
  const fired: number[] = [];
  let later = false;
  setDeadline(120, () => fired.push(performance.now() - started));
  // Three sweeps after the first: by then a second firing would have happened.
  setDeadline(120 + 3 * SWEEP_MS, () => later = true);
  await eventually("both deadlines fired", within(5_000), () => later);
  assert.equal(fired.length, 1);
  assert.ok(fired[0] >= 120, `fired after ${fired[0]} ms`);
  // One sweep late at most, plus scheduling slack on a busy machine.
  assert.ok(fired[0] < 120 + SWEEP_MS + 500, `fired after ${fired[0]} ms`);
});

Deno.test("a cleared deadline never fires while a later one does", async () => {
  const fired: string[] = [];
  const cleared = setDeadline(60, () => fired.push("cleared"));
  setDeadline(60 + 3 * SWEEP_MS, () => fired.push("kept"));
  clearDeadline(cleared);
  await eventually("the kept deadline fired", within(5_000), () => fired.length > 0);
  assert.deepEqual(fired, ["kept"]);
});
