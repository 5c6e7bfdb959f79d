/**
 * Reading alerts/: the rule files and their promtool test files, parsed, plus the pieces of
 * PromQL and of promtool's series notation the coverage checks need (metric selectors of an
 * expression, expanded sample values).
 */
import { basename, join } from "node:path";
import { parse } from "yaml";
import { REPO_ROOT } from "../../scripts/stack/launcher.ts";

export { REPO_ROOT };

export const ALERTS_DIR = join(REPO_ROOT, "alerts");
export const TESTS_DIR = join(ALERTS_DIR, "tests");

export interface AlertingRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RecordingRule {
  record: string;
  expr: string;
}
export type Rule = AlertingRule | RecordingRule;
export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Rule[];
}
export interface RuleFile {
  path: string;
  name: string;
  groups: RuleGroup[];
}

export interface AlertCase {
  alertname: string;
  eval_time: string;
  exp_alerts?: Array<{ exp_labels?: Record<string, string> }>;
}
export interface TestGroup {
  name?: string;
  interval?: string;
  input_series: Array<{ series: string; values: string }>;
  alert_rule_test?: AlertCase[];
  promql_expr_test?: unknown[];
}
export interface TestFile {
  path: string;
  name: string;
  rule_files: string[];
  evaluation_interval?: string;
  tests: TestGroup[];
}

/** Files in a folder whose names end with `suffix`, sorted. */
async function filesEnding(dir: string, suffix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(suffix)) names.push(entry.name);
  }
  return names.sort().map((name) => join(dir, name));
}

/** Every alerts/*.rules.yml, parsed. */
export async function loadRuleFiles(): Promise<RuleFile[]> {
  const paths = await filesEnding(ALERTS_DIR, ".rules.yml");
  return await Promise.all(paths.map(async (path) => ({
    path,
    name: basename(path, ".rules.yml"),
    groups: (parse(await Deno.readTextFile(path)) as { groups: RuleGroup[] }).groups,
  })));
}

/** Every alerts/tests/*.test.yml, parsed. */
export async function loadTestFiles(): Promise<TestFile[]> {
  const paths = await filesEnding(TESTS_DIR, ".test.yml");
  return await Promise.all(paths.map(async (path) => ({
    path,
    name: basename(path, ".test.yml"),
    // failsafe: every scalar a string, as promtool reads them (`0x90` is not hex 144 there).
    ...(parse(await Deno.readTextFile(path), { schema: "failsafe" }) as Omit<
      TestFile,
      "path" | "name"
    >),
  })));
}

export function isAlert(rule: Rule): rule is AlertingRule {
  return "alert" in rule;
}

/** Every alerting rule of the files, with the file it is in. */
export function alertsOf(files: RuleFile[]): Array<AlertingRule & { file: string }> {
  return files.flatMap((file) =>
    file.groups.flatMap((group) =>
      group.rules.filter(isAlert).map((rule) => ({ ...rule, file: file.name }))
    )
  );
}

/** Prometheus durations (`1h30m`, `45s`) in seconds. */
export function durationSeconds(text: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  let rest = text.trim();
  while (rest.length > 0) {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/.exec(rest);
    if (!match) throw new Error(`not a duration: ${text}`);
    total += Number(match[1]) * units[match[2]];
    rest = rest.slice(match[0].length);
  }
  return total;
}

/** A metric selector: the name and its equality matchers (other matchers constrain nothing here). */
export interface Selector {
  name: string;
  equals: Record<string, string>;
}

const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "inf", "nan", "by", "on"]);

/** The metric selectors of a PromQL expression (names of series it reads, with `=` matchers). */
export function selectorsOf(expr: string): Selector[] {
  const braces: string[] = [];
  let text = expr.replace(/\{[^}]*\}/g, (block) => `{#${braces.push(block) - 1}}`);
  text = text
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\[[^\]]*\]/g, " ");
  const selectors: Selector[] = [];
  const pattern = /(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{#(\d+)\})?(\s*\()?/g;
  for (const match of text.matchAll(pattern)) {
    const [, name, , braceIndex, call] = match;
    if (call || KEYWORDS.has(name.toLowerCase())) continue;
    const equals: Record<string, string> = {};
    if (braceIndex !== undefined) {
      // `=~`, `!=` and `!~` do not match this pattern: only equality matchers are kept.
      for (const m of braces[Number(braceIndex)].matchAll(/(\w+)\s*=\s*"([^"]*)"/g)) {
        equals[m[1]] = m[2];
      }
    }
    selectors.push({ name, equals });
  }
  return selectors;
}

/** Selectors of an expression with recorded series replaced by the raw series they read. */
export function rawSelectorsOf(expr: string, recordings: Map<string, string>): Selector[] {
  const result: Selector[] = [];
  const seen = new Set<string>();
  const visit = (text: string) => {
    for (const selector of selectorsOf(text)) {
      const recorded = recordings.get(selector.name);
      if (recorded !== undefined) {
        if (!seen.has(selector.name)) {
          seen.add(selector.name);
          visit(recorded);
        }
      } else if (!result.some((s) => JSON.stringify(s) === JSON.stringify(selector))) {
        result.push(selector);
      }
    }
  };
  visit(expr);
  return result;
}

/** Recorded series name → its expression, across files. */
export function recordingsOf(files: RuleFile[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const file of files) {
    for (const group of file.groups) {
      for (const rule of group.rules) if (!isAlert(rule)) map.set(rule.record, rule.expr);
    }
  }
  return map;
}

/** A promtool input series `name{a="b",...}` as a name and labels. */
export function parseSeries(text: string): { name: string; labels: Record<string, string> } {
  const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*$/.exec(text.trim());
  if (!match) throw new Error(`not a series: ${text}`);
  const labels: Record<string, string> = {};
  for (const m of (match[2] ?? "").matchAll(/(\w+)\s*=\s*"([^"]*)"/g)) labels[m[1]] = m[2];
  return { name: match[1], labels };
}

export function seriesMatches(
  series: { name: string; labels: Record<string, string> },
  selector: Selector,
): boolean {
  return series.name === selector.name &&
    Object.entries(selector.equals).every(([key, value]) => series.labels[key] === value);
}

/**
 * promtool's expanding notation as samples (null for a missing one): `a+bxc` is c+1 values from
 * a in steps of b, `axc` is a repeated c+1 times, `_xc` is c missing samples.
 */
export function expandValues(text: string): Array<number | null> {
  const out: Array<number | null> = [];
  for (const token of text.trim().split(/\s+/)) {
    if (token === "_" || token === "stale") {
      out.push(null);
      continue;
    }
    const missing = /^_x(\d+)$/.exec(token);
    if (missing) {
      for (let i = 0; i < Number(missing[1]); i++) out.push(null);
      continue;
    }
    const step = /^(-?[\d.e+]+?)([+-][\d.e]+)?x(\d+)$/.exec(token);
    if (step) {
      const start = Number(step[1]);
      const by = step[2] === undefined ? 0 : Number(step[2]);
      for (let i = 0; i <= Number(step[3]); i++) out.push(start + by * i);
      continue;
    }
    const value = Number(token);
    if (Number.isNaN(value)) throw new Error(`not a promtool value: ${token} in ${text}`);
    out.push(value);
  }
  return out;
}

/** True when a counter series goes down at some point: an app restart. */
export function hasCounterReset(values: Array<number | null>): boolean {
  let last: number | undefined;
  for (const value of values) {
    if (value === null) continue;
    if (last !== undefined && value < last) return true;
    last = value;
  }
  return false;
}

/** GitHub's anchor for a Markdown heading. */
export function headingAnchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-");
}

/** Anchors of the `## ` sections of a Markdown file. */
export async function sectionAnchors(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path);
  return [...text.matchAll(/^## (.+)$/gm)].map((m) => headingAnchor(m[1]));
}

/** Runs a stack tool (promtool, amtool) from the repository root; stdout and stderr together. */
export async function runTool(
  binary: string,
  args: string[],
): Promise<{ code: number; output: string }> {
  const result = await new Deno.Command(binary, {
    args,
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}
