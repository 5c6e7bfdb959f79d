import assert from "node:assert/strict";
import { openSqliteLedger } from "../../src/ledger/ledger.ts";
import { scanned } from "./fixtures.ts";

Deno.test("durability: rows whose appends resolved survive a SIGKILL right after", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ict-ledger-kill-" });
  const path = `${dir}/ledger.sqlite`;
  const count = 2000;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      new URL("./append_worker.ts", import.meta.url).pathname,
      path,
      String(count),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    let output = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      output += text;
      if (output.includes(`appended ${count}\n`)) {
        child.kill("SIGKILL");
        break;
      }
    }
    const status = await child.status;
    assert.equal(status.signal, "SIGKILL");
    const ledger = openSqliteLedger(path, "normal");
    const rows = await scanned(ledger.scan({ fromMs: 0, toMs: Number.MAX_SAFE_INTEGER }));
    await ledger.close();
    assert.equal(rows.length, count);
    assert.deepEqual(
      new Set(rows.map((r) => r.requestId)),
      new Set(Array.from({ length: count }, (_, i) => `row-${i}`)),
    );
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await Deno.remove(dir, { recursive: true });
  }
});
