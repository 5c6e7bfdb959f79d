/**
 * The repository's own import graph, as `deno info --json` reports it (type-only imports
 * included), and the cycles in it. Used by import_cycles_test.ts.
 */

/** Module → the repository modules it imports (code or type), as paths relative to the root. */
export type ImportGraph = Map<string, Set<string>>;

interface DenoInfoDependency {
  readonly code?: { readonly specifier?: string };
  readonly type?: { readonly specifier?: string };
}

interface DenoInfo {
  readonly modules: readonly {
    readonly specifier: string;
    readonly dependencies?: readonly DenoInfoDependency[];
  }[];
}

/**
 * The import graph of every `.ts` file under `folders` (relative to `root`): `deno info --json`
 * is run on a file no earlier graph reached, until every file is in one, so each file is checked
 * whether or not an entry point imports it.
 */
export async function importGraph(root: string, folders: readonly string[]): Promise<ImportGraph> {
  const rootUrl = new URL(root.endsWith("/") ? root : root + "/", "file://").href;
  const files = (await Promise.all(folders.map((f) => tsFiles(root, f)))).flat().sort();
  const graph: ImportGraph = new Map();
  for (const file of files) {
    if (graph.has(file)) continue;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", file],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(`deno info ${file} failed: ${new TextDecoder().decode(output.stderr)}`);
    }
    const info = JSON.parse(new TextDecoder().decode(output.stdout)) as DenoInfo;
    for (const module of info.modules) {
      if (!module.specifier.startsWith(rootUrl)) continue;
      const from = module.specifier.slice(rootUrl.length);
      const edges = graph.get(from) ?? new Set<string>();
      for (const dep of module.dependencies ?? []) {
        for (const target of [dep.code?.specifier, dep.type?.specifier]) {
          if (target?.startsWith(rootUrl)) edges.add(target.slice(rootUrl.length));
        }
      }
      graph.set(from, edges);
    }
  }
  return graph;
}

async function tsFiles(root: string, folder: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(`${root}/${folder}`)) {
    const path = `${folder}/${entry.name}`;
    if (entry.isDirectory) out.push(...await tsFiles(root, path));
    else if (entry.isFile && entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/**
 * Every import cycle, one per strongly connected component of more than one module (or a module
 * importing itself), each given as a closed path `a → b → … → a` through that component.
 */
export function importCycles(graph: ImportGraph): string[][] {
  const cycles: string[][] = [];
  for (const component of stronglyConnected(graph)) {
    const members = new Set(component);
    const start = component[0];
    if (component.length === 1 && !graph.get(start)?.has(start)) continue;
    cycles.push(pathBack(graph, members, start));
  }
  return cycles;
}

/** Tarjan's algorithm, iterative so a deep graph cannot overflow the stack. */
function stronglyConnected(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  const nodes = new Set<string>([...graph.keys(), ...[...graph.values()].flatMap((s) => [...s])]);
  for (const root of [...nodes].sort()) {
    if (index.has(root)) continue;
    const work: { node: string; edges: string[]; i: number }[] = [];
    const enter = (node: string) => {
      index.set(node, next);
      low.set(node, next);
      next++;
      stack.push(node);
      onStack.add(node);
      work.push({ node, edges: [...(graph.get(node) ?? [])].sort(), i: 0 });
    };
    enter(root);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      if (frame.i < frame.edges.length) {
        const target = frame.edges[frame.i++];
        if (!index.has(target)) enter(target);
        else if (onStack.has(target)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(target)!));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].node;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.node)!));
      }
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        components.push(component.sort());
      }
    }
  }
  return components;
}

/** A shortest path from `start` back to itself inside one component (breadth first). */
function pathBack(graph: ImportGraph, members: Set<string>, start: string): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const target of [...(graph.get(node) ?? [])].sort()) {
      if (!members.has(target)) continue;
      if (target === start) {
        const path = [start];
        for (let at = node; at !== start; at = previous.get(at)!) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!previous.has(target)) {
        previous.set(target, node);
        queue.push(target);
      }
    }
  }
  return [start, start];
}
