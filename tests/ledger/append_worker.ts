/**
 * A child process for the SIGKILL test: appends `count` rows (ids `row-0` …) to the SQLite ledger
 * at `path` in bursts of varying size, prints `appended <count>` once the last append resolved,
 * and then waits to be killed.
 */
import { openSqliteLedger } from "../../src/ledger/ledger.ts";
import { makeRow } from "./fixtures.ts";

const [path, countText] = Deno.args;
const count = Number(countText);
const ledger = openSqliteLedger(path, "normal");
let next = 0;
while (next < count) {
  const burst = Math.min(count - next, 1 + (next % 37));
  await Promise.all(
    Array.from({ length: burst }, () => ledger.append(makeRow({ requestId: `row-${next++}` }))),
  );
}
console.log(`appended ${count}`);
setInterval(() => {}, 60_000);
