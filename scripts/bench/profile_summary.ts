/**
 * Summarises a V8 `.cpuprofile` written by `deno run --cpu-prof`: the functions with the most
 * self time and the most inclusive time, as percentages of the sampled time. Used to find the hot
 * path of a benchmark; the flame graph itself opens in Chrome DevTools or speedscope.
 *
 * Usage: deno run --allow-read scripts/bench/profile_summary.ts <file.cpuprofile> [top=25] [filter]
 *          [skip-ms=0]
 */

/** One node of V8's sampled call tree. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** The parts of a `.cpuprofile` this summary reads. */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A function's share of the profile. */
export interface FunctionCost {
  readonly name: string;
  readonly selfPercent: number;
  readonly totalPercent: number;
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^.*\/(node_modules|registry\.npmjs\.org|src|scripts)\//, "$1/");
  return `${functionName || "(anonymous)"} ${file ? `${file}:${lineNumber + 1}` : ""}`.trim();
}

/**
 * Self and inclusive time per function, largest self time first. `skipMs` leaves out the first
 * milliseconds of the profile (start-up: loading vocabularies is not the request path).
 */
export function summarizeProfile(profile: CpuProfile, skipMs = 0): FunctionCost[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const selfTime = new Map<number, number>();
  let total = 0;
  const idle = profile.nodes.find((n) => n.callFrame.functionName === "(idle)")?.id;
  let elapsedUs = 0;
  profile.samples.forEach((id, i) => {
    const dt = Math.max(0, profile.timeDeltas[i] ?? 0);
    elapsedUs += dt;
    // Idle time is the server waiting for load; shares are of the time spent working.
    if (id === idle || elapsedUs < skipMs * 1000) return;
    selfTime.set(id, (selfTime.get(id) ?? 0) + dt);
    total += dt;
  });
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, dt] of selfTime) {
    const node = byId.get(id);
    if (!node) continue;
    const name = frameName(node);
    self.set(name, (self.get(name) ?? 0) + dt);
    // A recursive function is counted once per sample in its inclusive time.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at);
      if (!frame) break;
      const frameKey = frameName(frame);
      if (seen.has(frameKey)) continue;
      seen.add(frameKey);
      inclusive.set(frameKey, (inclusive.get(frameKey) ?? 0) + dt);
    }
  }
  const names = new Set([...self.keys(), ...inclusive.keys()]);
  return [...names].map((name) => ({
    name,
    selfPercent: total ? (100 * (self.get(name) ?? 0)) / total : 0,
    totalPercent: total ? (100 * (inclusive.get(name) ?? 0)) / total : 0,
  })).sort((a, b) => b.selfPercent - a.selfPercent);
}

if (import.meta.main) {
  const [path, topArg, filter, skipArg] = Deno.args;
  if (!path) {
    console.error("usage: profile_summary.ts <file.cpuprofile> [top] [filter]");
    Deno.exit(2);
  }
  const top = Number(topArg ?? "25");
  const profile = JSON.parse(await Deno.readTextFile(path)) as CpuProfile;
  const costs = summarizeProfile(profile, Number(skipArg ?? "0"))
    .filter((c) => !filter || c.name.includes(filter));
  console.log("self %  total %  function");
  for (const c of costs.slice(0, top)) {
    console.log(
      `${c.selfPercent.toFixed(1).padStart(6)}  ${
        c.totalPercent.toFixed(1).padStart(7)
      }  ${c.name}`,
    );
  }
  console.log("\nby inclusive time:");
  for (const c of [...costs].sort((a, b) => b.totalPercent - a.totalPercent).slice(0, top)) {
    console.log(
      `${c.selfPercent.toFixed(1).padStart(6)}  ${
        c.totalPercent.toFixed(1).padStart(7)
      }  ${c.name}`,
    );
  }
}
