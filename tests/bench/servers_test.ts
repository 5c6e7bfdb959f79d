import assert from "node:assert/strict";
import { startFlags, withV8Flags } from "../../scripts/bench/lib/servers.ts";

Deno.test("the bench starts the server with the start task's flags", () => {
  const root = new URL("../../", import.meta.url).pathname;
  const config = JSON.parse(Deno.readTextFileSync(`${root}/deno.json`));
  const flags = startFlags(root);
  assert.equal(config.tasks.start, ["deno", "run", ...flags, "src/main.ts"].join(" "));
});

Deno.test("extra V8 flags join the start task's list and replace a flag of the same name", () => {
  assert.deepEqual(withV8Flags(["--allow-net"], []), ["--allow-net"]);
  assert.deepEqual(withV8Flags(["--allow-net"], ["--max-semi-space-size=4"]), [
    "--allow-net",
    "--v8-flags=--max-semi-space-size=4",
  ]);
  assert.deepEqual(
    withV8Flags(["--v8-flags=--max-semi-space-size=32,--stack-size=2000", "--allow-net"], [
      "--max-semi-space-size=4",
    ]),
    ["--allow-net", "--v8-flags=--stack-size=2000,--max-semi-space-size=4"],
  );
});
