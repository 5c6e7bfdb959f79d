/**
 * What every scenario shares: the run's settings (smoke or full, rounds, CPU pinning), where the
 * tools are, a scratch folder, and the shape of a scenario's report (tables in Markdown, headline
 * ratios, the machine load before and after).
 */
import type { Tools } from "./load.ts";
import { cpuCount, loadAverage } from "./processes.ts";

/** Settings and services of one benchmark run. */
export interface BenchContext {
  /** The repository root. */
  readonly root: string;
  /** Scratch folder for configs, logs and load-tool files; removed after the run. */
  readonly workDir: string;
  readonly tools: Tools;
  /** Smoke mode: each scenario runs a second or two and checks only that it works. */
  readonly smoke: boolean;
  /** Rounds per scenario (contenders alternate within each round). */
  readonly rounds: number;
  /** Rounds of the unpinned floor scenario (the method: two). */
  readonly floorRounds: number;
  /** Seconds per wrk run of the floor scenario (the method: 4). */
  readonly floorSeconds: number;
  /** Seconds per measurement. */
  readonly seconds: number;
  /** Length of the steady-rate soak of scenario 5 (full mode only). */
  readonly soakSeconds: number;
  /** CPU lists for `taskset`: the server under test, and the load tool with its helpers. */
  readonly cpus: { readonly server?: string; readonly load?: string };
  /** Contender to profile with --cpu-prof, if any. */
  readonly profile?: string;
  /** Contenders to run in the floor scenario (all when absent). */
  readonly contenders?: readonly string[];
  /** Another checkout whose server the floor scenario also runs, for before/after figures. */
  readonly baseline?: string;
  log(message: string): void;
}

/** A table of results. */
/** A figure a scenario measured for a target. */
export interface TargetFigure {
  readonly value: number;
  /** The figure as printed, e.g. `0.31×` or `+4.2 ms`. */
  readonly text: string;
}

/** The ids of the targets, in table order. */
export type TargetId =
  | "stream-vs-proxy"
  | "plain-vs-proxy"
  | "inference-vs-hono"
  | "traced-vs-hono"
  | "ledger-cost"
  | "ledger-cost-gateway"
  | "gateway-p99-1000"
  | "stream-ttft-p99"
  | "metrics-render";

export interface Table {
  readonly title?: string;
  readonly headers: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** What a scenario hands back. */
export interface ScenarioReport {
  readonly id: string;
  readonly title: string;
  readonly startedAt: string;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
  readonly tables: readonly Table[];
  /** Headline figures, e.g. `{"full path / ceiling (default sampling)": "0.52"}`. */
  readonly headline: Record<string, string>;
  readonly notes: readonly string[];
  /** Markdown placed after the notes as is (e.g. a sub-benchmark's own report). */
  readonly appendix?: string;
  /** Figures for the targets table (lib/targets.ts) printed at the end of a run. */
  readonly targets?: Partial<Record<TargetId, TargetFigure>>;
  /** Raw per-round numbers, for the JSON output. */
  readonly raw: unknown;
}

/** A scenario: runs its contenders and reports. */
export interface Scenario {
  readonly id: string;
  readonly title: string;
  run(
    ctx: BenchContext,
  ): Promise<Omit<ScenarioReport, "id" | "title" | "startedAt" | "loadBefore" | "loadAfter">>;
}

/** Runs a scenario with its start time and the machine load around it. */
export async function runScenario(ctx: BenchContext, scenario: Scenario): Promise<ScenarioReport> {
  const startedAt = new Date().toISOString();
  const loadBefore = loadAverage();
  ctx.log(`== ${scenario.id}: ${scenario.title} (load ${loadBefore.join(" ")})`);
  const result = await scenario.run(ctx);
  return {
    id: scenario.id,
    title: scenario.title,
    startedAt,
    loadBefore,
    loadAfter: loadAverage(),
    ...result,
  };
}

/** Renders a table as GitHub Markdown. */
export function markdownTable(table: Table): string {
  const lines = [];
  if (table.title) lines.push(`**${table.title}**`, "");
  lines.push(`| ${table.headers.join(" | ")} |`);
  lines.push(`| ${table.headers.map(() => "---").join(" | ")} |`);
  for (const row of table.rows) lines.push(`| ${row.join(" | ")} |`);
  return lines.join("\n");
}

/** Renders a scenario report as a Markdown section. */
export function markdownReport(report: ScenarioReport): string {
  const parts = [
    `### ${report.title}`,
    "",
    `Run ${report.startedAt}; load average before ${report.loadBefore.join(" ")}, after ${
      report.loadAfter.join(" ")
    } on ${cpuCount()} CPUs.`,
    "",
  ];
  for (const table of report.tables) parts.push(markdownTable(table), "");
  if (Object.keys(report.headline).length) {
    parts.push("Headline:", "");
    for (const [k, v] of Object.entries(report.headline)) parts.push(`- ${k}: **${v}**`);
    parts.push("");
  }
  for (const note of report.notes) parts.push(`- ${note}`);
  if (report.appendix) parts.push("", report.appendix);
  return parts.join("\n").trimEnd() + "\n";
}

/** Formats a ratio such as 0.4231 as `0.42×`. */
export function ratio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : "–";
}

/** A latency difference with its sign, e.g. `+3.0 ms`. */
export function signedMs(value: number): string {
  return `${value >= 0 ? "+" : ""}${value.toFixed(1)} ms`;
}

/** Formats a share such as 0.4231 as `42 %`. */
export function percent(value: number): string {
  return Number.isFinite(value) ? `${Math.round(value * 100)} %` : "–";
}
