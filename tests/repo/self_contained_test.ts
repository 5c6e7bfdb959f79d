/**
 * The repository is self-sufficient: no tracked file but Markdown prose points outside it at the
 * folders that sit beside a development checkout (shared notes, tool libraries), so a fresh clone
 * with nothing beside it runs every test, script and task. `.ci/run` proves the same by running
 * the fast tier in such a clone.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

/** The folders beside a checkout that nothing in the repository may read. */
const OUTSIDE_FOLDERS = ["shared", ".library"];

/** Tracked files, from git itself (untracked local data such as .stack-data is not the repo). */
async function trackedFiles(): Promise<string[]> {
  const output = await new Deno.Command("git", {
    args: ["ls-files", "-z"],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout).split("\0").filter(Boolean);
}

/** Relative (`..` and a slash before the folder) and absolute (the checkout's parent) references. */
function outsideReference(text: string): string | undefined {
  const names = OUTSIDE_FOLDERS.map((name) => name.replaceAll(".", "\\.")).join("|");
  const parent = dirname(REPO_ROOT).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(`(?:\\.\\./)+(?:${names})\\b|${parent}/(?:${names})\\b`);
  return pattern.exec(text)?.[0];
}

Deno.test("the reference check finds relative and absolute paths beside the checkout", () => {
  const dots = "..";
  assert.equal(outsideReference(`read("${dots}/shared/schemas/x.json")`), `${dots}/shared`);
  assert.equal(outsideReference(`${dots}/${dots}/.library/env`), `${dots}/${dots}/.library`);
  const absolute = `${dirname(REPO_ROOT)}/shared/ARCHITECTURE.md`;
  assert.ok(outsideReference(`see ${absolute}`));
  assert.equal(outsideReference("./shared/helpers.ts and src/shared.ts"), undefined);
});

Deno.test("no tracked file but Markdown refers to a folder beside the checkout", async () => {
  const files = (await trackedFiles()).filter((path) => !path.endsWith(".md"));
  assert.ok(files.length > 100, `only ${files.length} tracked files found`);
  const offenders: string[] = [];
  for (const path of files) {
    let text: string;
    try {
      text = await Deno.readTextFile(join(REPO_ROOT, path));
    } catch (error) {
      // Deleted in the work tree but not yet in the index: nothing to read.
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    const found = outsideReference(text);
    if (found) offenders.push(`${path}: ${found}`);
  }
  assert.deepEqual(offenders, []);
});
