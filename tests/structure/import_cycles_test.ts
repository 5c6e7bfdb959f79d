import assert from "node:assert/strict";
import { importCycles, type ImportGraph, importGraph } from "./import_graph.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

function graphOf(edges: Record<string, string[]>): ImportGraph {
  return new Map(Object.entries(edges).map(([from, to]) => [from, new Set(to)]));
}

Deno.test("no import cycle in src/, scripts/ or dashboards/src/, type-only imports included", async () => {
  const graph = await importGraph(ROOT, ["src", "scripts", "dashboards/src"]);
  assert.ok(graph.has("src/main.ts") && graph.has("dashboards/src/index.ts"), "graph was read");
  const cycles = importCycles(graph);
  assert.deepEqual(
    cycles.map((cycle) => cycle.join(" → ")),
    [],
    "break each cycle so imports run one way",
  );
});

Deno.test("the cycle finder names a cycle of three modules as a closed path", () => {
  const cycles = importCycles(graphOf({
    "a.ts": ["b.ts", "x.ts"],
    "b.ts": ["c.ts"],
    "c.ts": ["a.ts"],
    "x.ts": [],
  }));
  assert.deepEqual(cycles, [["a.ts", "b.ts", "c.ts", "a.ts"]]);
});

Deno.test("the cycle finder reports a module importing itself and each separate cycle once", () => {
  const cycles = importCycles(graphOf({
    "self.ts": ["self.ts"],
    "p.ts": ["q.ts"],
    "q.ts": ["p.ts", "r.ts"],
    "r.ts": ["q.ts"],
  }));
  assert.deepEqual(cycles.map((c) => c[0]).sort(), ["p.ts", "self.ts"]);
  assert.deepEqual(cycles.find((c) => c[0] === "self.ts"), ["self.ts", "self.ts"]);
});

Deno.test("the cycle finder finds none in a diamond (shared imports are not cycles)", () => {
  assert.deepEqual(
    importCycles(graphOf({ "top.ts": ["l.ts", "r.ts"], "l.ts": ["base.ts"], "r.ts": ["base.ts"] })),
    [],
  );
});

Deno.test("a cycle made only of type imports is read from deno info and reported", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/mod`);
    await Deno.writeTextFile(
      `${dir}/mod/a.ts`,
      'import type { B } from "./b.ts";\nexport interface A { b?: B }\n',
    );
    await Deno.writeTextFile(
      `${dir}/mod/b.ts`,
      'import type { A } from "./a.ts";\nexport interface B { a?: A }\n',
    );
    const cycles = importCycles(await importGraph(dir, ["mod"]));
    assert.deepEqual(cycles, [["mod/a.ts", "mod/b.ts", "mod/a.ts"]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
