import assert from "node:assert/strict";
import { importCycles, type ImportGraph, importGraph } from "./import_graph.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

function graphOf(edges: Record<string, string[]>): ImportGraph {
  return new Map(Object.entries(edges).map(([from, to]) => [from, new Set(to)]));
}

/** The repository's graph, read once for the tests that look at it. */
const repoGraph = importGraph(ROOT, ["src", "scripts", "dashboards/src"]);

Deno.test("no import cycle in src/, scripts/ or dashboards/src/, type-only imports included", async () => {
  const graph = await repoGraph;
  assert.ok(graph.has("src/main.ts") && graph.has("dashboards/src/index.ts"), "graph was read");
  const cycles = importCycles(graph);
  assert.deepEqual(
    cycles.map((cycle) => cycle.join(" → ")),
    [],
    "break each cycle so imports run one way",
  );
});

/** The gateway's layers, lowest first: a module imports only from layers before its own. */
const GATEWAY_LAYERS: readonly (readonly string[])[] = [
  // Reading a provider's stream: the byte scan, SSE events, the upstream exchange.
  ["text_tally.ts", "json_scan.ts", "sse_scan.ts", "sse.ts", "upstream.ts"],
  ["contract.ts", "budget.ts"],
  ["admission.ts"],
  ["endings.ts"],
  ["relay.ts"],
  ["upstream_events.ts"],
  ["proxy.ts", "simulate.ts", "passthrough.ts"],
  ["handler.ts"],
];

/** The layer of a module under src/gateway/: its index, or the protocol folder it sits in. */
function gatewayLayer(path: string): number | string | undefined {
  if (!path.startsWith("src/gateway/")) return undefined;
  const rest = path.slice("src/gateway/".length);
  if (rest.includes("/")) return rest.split("/")[0];
  const index = GATEWAY_LAYERS.findIndex((layer) => layer.includes(rest));
  if (index === -1) throw new Error(`${path} is in no gateway layer; add it to GATEWAY_LAYERS`);
  return index;
}

Deno.test("src/gateway imports run one way: contract → admission → endings → relay → proxy/simulate → handler → protocol folders", async () => {
  const wrong: string[] = [];
  for (const [from, targets] of await repoGraph) {
    const own = gatewayLayer(from);
    if (own === undefined) continue;
    for (const target of targets) {
      const other = gatewayLayer(target);
      if (other === undefined) continue;
      // A protocol folder builds on every layer; the layers never reach into a protocol folder,
      // and one protocol folder never into another.
      const allowed = typeof own === "string"
        ? typeof other === "number" || other === own
        : typeof other === "number" && (other < own || (other === 0 && own === 0));
      if (!allowed) wrong.push(`${from} → ${target}`);
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("src/ and scripts/ import nothing from tests/", async () => {
  const wrong: string[] = [];
  for (const [from, targets] of await repoGraph) {
    if (!from.startsWith("src/") && !from.startsWith("scripts/")) continue;
    for (const target of targets) {
      if (target.startsWith("tests/")) wrong.push(`${from} → ${target}`);
    }
  }
  assert.deepEqual(wrong, []);
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
