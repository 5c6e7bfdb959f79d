/**
 * `deno task bench`: every performance scenario of docs/benchmarks.md, contenders alternating in
 * the same run, several rounds, median and spread, each process's CPU use beside the figure.
 *
 * Usage: deno task bench [--smoke] [--only=ceiling,gateway,…] [--rounds=N] [--seconds=N]
 *          [--soak-seconds=N] [--server-cpus=1] [--load-cpus=0] [--no-pin] [--profile=<contender>]
 *          [--floor-rounds=2] [--floor-seconds=4] [--contenders=gateway,proxy,…]
 *          [--baseline=<another checkout>]
 *          [--json=out.json] [--markdown=out.md]
 *
 * --smoke runs each scenario for a second or two and checks only that it works (CI runs it through
 * tests/bench/); it never judges a time. Load only ever goes to 127.0.0.1. The run ends with the
 * targets table (lib/targets.ts): every target's figure from this run.
 */
import { parseArgs } from "node:util";
import {
  type BenchContext,
  markdownReport,
  markdownTable,
  runScenario,
  type Scenario,
  type ScenarioReport,
} from "./lib/context.ts";
import { targetsTable } from "./lib/targets.ts";
import type { Tools } from "./lib/load.ts";
import { cpuCount, loadAverage, taskset } from "./lib/processes.ts";
import { ceiling } from "./scenarios/ceiling.ts";
import { gatewayOverhead } from "./scenarios/gateway.ts";
import { streaming } from "./scenarios/streaming.ts";
import { tokenization } from "./scenarios/tokenization.ts";
import { metricsScale } from "./scenarios/metrics_scale.ts";
import { coldStartScenario } from "./scenarios/cold_start.ts";
import { floor } from "./scenarios/floor.ts";
import { gcSettings } from "./scenarios/gc.ts";

/** Every scenario, in the order they run. */
export const SCENARIOS: readonly Scenario[] = [
  ceiling,
  gatewayOverhead,
  streaming,
  tokenization,
  metricsScale,
  coldStartScenario,
  floor,
  gcSettings,
];

/** Finds the load tools, installing the cheap ones (scripts/bench/install-tools.sh). */
export async function findTools(root: string): Promise<Tools> {
  const out = await new Deno.Command("bash", {
    args: [`${root}/scripts/bench/install-tools.sh`, "--ci"],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("scripts/bench/install-tools.sh failed");
  const paths: Record<string, string> = {};
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) paths[line.slice(0, eq)] = line.slice(eq + 1);
  }
  const time = ["/usr/bin/time"].find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
  return {
    wrk: paths.wrk,
    vegeta: paths.vegeta,
    oha: paths.oha,
    portkey: paths.portkey,
    time,
  };
}

/** Options of one run. */
export interface BenchOptions {
  readonly smoke: boolean;
  readonly only?: readonly string[];
  readonly rounds?: number;
  readonly seconds?: number;
  readonly soakSeconds?: number;
  readonly pin?: boolean;
  readonly serverCpus?: string;
  readonly loadCpus?: string;
  readonly profile?: string;
  readonly floorRounds?: number;
  readonly floorSeconds?: number;
  readonly contenders?: readonly string[];
  readonly baseline?: string;
  readonly quiet?: boolean;
}

/** Runs the selected scenarios and returns their reports. */
export async function runBench(options: BenchOptions): Promise<ScenarioReport[]> {
  const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
  const workDir = await Deno.makeTempDir({ prefix: "ict-bench-" });
  const pin = options.pin !== false && cpuCount() >= 2 && taskset() !== null;
  const ctx: BenchContext = {
    root,
    workDir,
    tools: await findTools(root),
    smoke: options.smoke,
    rounds: options.rounds ?? (options.smoke ? 1 : 5),
    seconds: options.seconds ?? (options.smoke ? 1 : 5),
    soakSeconds: options.soakSeconds ?? 300,
    floorRounds: options.floorRounds ?? (options.smoke ? 1 : 2),
    floorSeconds: options.floorSeconds ?? (options.smoke ? 1 : 4),
    contenders: options.contenders,
    baseline: options.baseline,
    cpus: pin ? { server: options.serverCpus ?? "1", load: options.loadCpus ?? "0" } : {},
    profile: options.profile,
    log: options.quiet ? () => {} : (m) => console.error(m),
  };
  const selected = options.only?.length
    ? SCENARIOS.filter((s) => options.only!.includes(s.id))
    : SCENARIOS;
  if (options.only?.length && selected.length !== options.only.length) {
    const known = SCENARIOS.map((s) => s.id).join(", ");
    throw new Error(`unknown scenario in --only=${options.only.join(",")} (known: ${known})`);
  }
  const reports: ScenarioReport[] = [];
  try {
    for (const scenario of selected) reports.push(await runScenario(ctx, scenario));
  } finally {
    if (!options.profile) await Deno.remove(workDir, { recursive: true }).catch(() => {});
    else ctx.log(`work folder with profiles kept: ${workDir}`);
  }
  return reports;
}

/** The targets table of a run, from the figures its scenarios reported. */
export function targetsMarkdown(reports: readonly ScenarioReport[], smoke: boolean): string {
  const figures = Object.assign({}, ...reports.map((r) => r.targets ?? {}));
  const table = targetsTable(figures, !smoke);
  const note = smoke ? "\nSmoke run: smaller setups and rates, figures not judged.\n" : "";
  return `### ${table.title}\n\n${markdownTable({ ...table, title: undefined })}\n${note}`;
}

/** A header naming the machine, the tools and the load, for the Markdown output. */
async function environmentHeader(tools: Tools, pin: string): Promise<string> {
  const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
    .match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "unknown CPU";
  const toolList = Object.entries(tools).filter(([, v]) => v).map(([k]) => k).join(", ");
  return [
    `Date ${new Date().toISOString()}; Deno ${Deno.version.deno}; ${cpuCount()} × ${cpu}; ` +
    `load average ${loadAverage().join(" ")}; pinning ${pin}; tools ${toolList}.`,
    "",
  ].join("\n");
}

const USAGE = `deno task bench [--smoke] [--only=ceiling,gateway,…] [--rounds=N] [--seconds=N]
  [--soak-seconds=N] [--server-cpus=1] [--load-cpus=0] [--no-pin] [--profile=<server name>]
  [--floor-rounds=2] [--floor-seconds=4] [--contenders=gateway,proxy,…]
  [--baseline=<another checkout>] [--json=out.json] [--markdown=out.md]

Scenarios, contenders and targets: docs/benchmarks.md.`;

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      smoke: { type: "boolean", default: false },
      only: { type: "string" },
      rounds: { type: "string" },
      seconds: { type: "string" },
      "soak-seconds": { type: "string" },
      "no-pin": { type: "boolean", default: false },
      "server-cpus": { type: "string" },
      "load-cpus": { type: "string" },
      profile: { type: "string" },
      "floor-rounds": { type: "string" },
      "floor-seconds": { type: "string" },
      contenders: { type: "string" },
      baseline: { type: "string" },
      json: { type: "string" },
      markdown: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const list = (v: string | undefined) => v?.split(",").map((s) => s.trim()).filter(Boolean);
  const reports = await runBench({
    smoke: values.smoke,
    only: list(values.only),
    rounds: num(values.rounds),
    seconds: num(values.seconds),
    soakSeconds: num(values["soak-seconds"]),
    pin: !values["no-pin"],
    serverCpus: values["server-cpus"],
    loadCpus: values["load-cpus"],
    profile: values.profile,
    floorRounds: num(values["floor-rounds"]),
    floorSeconds: num(values["floor-seconds"]),
    contenders: list(values.contenders),
    baseline: values.baseline,
  });
  const tools = await findTools(new URL("../../", import.meta.url).pathname);
  const pin = values["no-pin"]
    ? "off"
    : `server on CPU ${values["server-cpus"] ?? "1"}, load tools on CPU ${
      values["load-cpus"] ?? "0"
    } (scenarios 7 and 8 never pin)`;
  const markdown = (await environmentHeader(tools, pin)) + "\n" +
    reports.map(markdownReport).join("\n") + "\n" + targetsMarkdown(reports, values.smoke);
  console.log(markdown);
  if (values.markdown) await Deno.writeTextFile(values.markdown, markdown);
  if (values.json) await Deno.writeTextFile(values.json, JSON.stringify(reports, null, 2) + "\n");
}
