/**
 * deno.lock: every `deno task` caches every npm package the lock file names before it runs (Deno's
 * task runner does), so a package there with install scripts prints Deno's warning box about
 * lifecycle scripts not run on every first run, `deno task dev` included.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

Deno.test("no npm package in deno.lock has lifecycle scripts that Deno would warn about", async () => {
  const lock = JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "deno.lock"))) as {
    npm: Record<string, { scripts?: boolean }>;
  };
  assert.ok(Object.keys(lock.npm).length > 10, "deno.lock lists almost no npm package");
  const withScripts = Object.entries(lock.npm).filter(([, entry]) => entry.scripts)
    .map(([name]) => name);
  assert.deepEqual(withScripts, []);
});
