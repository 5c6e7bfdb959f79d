/**
 * The documentation holds together: every relative link and anchor of every tracked Markdown file
 * resolves, and the README stays a front door (at most 350 lines), not the manual.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { posix } from "node:path";
import { extractLinks, findBrokenLinks, headingAnchors } from "./markdown_links.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const README_MAX_LINES = 350;

/** Paths git tracks (staged ones included), relative to the root. */
async function trackedFiles(): Promise<string[]> {
  const { code, stdout, stderr } = await new Deno.Command("git", {
    args: ["ls-files", "-z"],
    cwd: ROOT,
  }).output();
  const decoder = new TextDecoder();
  assert.equal(code, 0, `git ls-files failed: ${decoder.decode(stderr)}`);
  return decoder.decode(stdout).split("\0").filter((path) => path !== "");
}

/** The tracked paths that are still on disk, plus every folder that holds one. */
function existingPaths(tracked: string[]): Set<string> {
  const paths = new Set<string>();
  for (const path of tracked) {
    try {
      Deno.statSync(`${ROOT}${path}`);
    } catch {
      continue;
    }
    paths.add(path);
    for (let dir = posix.dirname(path); dir !== "."; dir = posix.dirname(dir)) paths.add(dir);
  }
  return paths;
}

Deno.test("links are read from text, tables, images and reference definitions, not from code", () => {
  const sample = [
    "# Title with [a link](heading.md)",
    "",
    "Text [inline](docs/a.md#part) and ![picture](img/b.png) and [ref][r] <https://example.com>.",
    "",
    "| a | b |",
    "| --- | --- |",
    "| [in a table](c.md) | `[in code](not-a-link.md)` |",
    "",
    "```md",
    "[in a fence](not-a-link-either.md)",
    "```",
    "",
    "[r]: ref/target.md",
  ].join("\n");
  assert.deepEqual(extractLinks(sample).map((link) => link.href), [
    "heading.md",
    "docs/a.md#part",
    "img/b.png",
    "ref/target.md",
    "https://example.com",
    "c.md",
    "ref/target.md",
  ]);
});

Deno.test("heading anchors are slugged as GitHub renders them, duplicates numbered", () => {
  const anchors = headingAnchors(
    [
      "# Metrics and traces",
      "## `rate()` is empty or NaN",
      "## The drill path: from a cost to the request's trace",
      "## OpenAI- and Anthropic-compatible gateway",
      "## Settings",
      "### Settings",
      "## See [the stack](stack.md)",
    ].join("\n\n"),
  );
  assert.deepEqual([...anchors], [
    "metrics-and-traces",
    "rate-is-empty-or-nan",
    "the-drill-path-from-a-cost-to-the-requests-trace",
    "openai--and-anthropic-compatible-gateway",
    "settings",
    "settings-1",
    "see-the-stack",
  ]);
});

Deno.test("a missing file, a missing anchor and a path out of the repository are reported", () => {
  const markdown = new Map([
    [
      "README.md",
      "# Top\n\n[ok](docs/a.md#part-one) [ok too](#top) [folder](docs/) [external](https://x.y/z)\n" +
      "[gone](docs/gone.md) [bad anchor](docs/a.md#part-two) [escape](../outside.md)\n",
    ],
    ["docs/a.md", "# A\n\n## Part one\n\n[back](../README.md#top) [self](#a) [bad self](#nope)\n"],
  ]);
  const exists = (path: string) => ["README.md", "docs", "docs/a.md"].includes(path);
  assert.deepEqual(findBrokenLinks({ markdown, exists }), [
    { file: "README.md", href: "docs/gone.md", reason: "docs/gone.md does not exist" },
    { file: "README.md", href: "docs/a.md#part-two", reason: "docs/a.md has no heading #part-two" },
    { file: "README.md", href: "../outside.md", reason: "points outside the repository" },
    { file: "docs/a.md", href: "#nope", reason: "docs/a.md has no heading #nope" },
  ]);
});

Deno.test("every relative link and anchor in the repository's Markdown resolves", async () => {
  const tracked = await trackedFiles();
  const existing = existingPaths(tracked);
  const markdown = new Map<string, string>();
  for (const path of tracked.filter((p) => p.endsWith(".md") && existing.has(p))) {
    markdown.set(path, await Deno.readTextFile(`${ROOT}${path}`));
  }
  assert.ok(
    markdown.has("README.md") && markdown.size > 5,
    `too few Markdown files: ${markdown.size}`,
  );
  const broken = findBrokenLinks({ markdown, exists: (path) => existing.has(path) });
  assert.deepEqual(
    broken.map((b) => `${b.file}: (${b.href}) ${b.reason}`),
    [],
    "broken links",
  );
});

Deno.test(`README.md is at most ${README_MAX_LINES} lines`, async () => {
  const lines = (await Deno.readTextFile(`${ROOT}README.md`)).split("\n");
  if (lines.at(-1) === "") lines.pop();
  assert.ok(
    lines.length <= README_MAX_LINES,
    `README.md has ${lines.length} lines; move the detail into docs/ and link it`,
  );
});
