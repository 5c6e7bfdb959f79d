/**
 * Prometheus keeps every sample a panel or a rule reads: the retention in stack/compose.yaml
 * (compose and the native stack run the same command) is longer, by a day for block compaction,
 * than the longest window of any expression in dashboards/generated/*.json and alerts/*.rules.yml.
 * A window is a range selector plus its offset, plus the window of any recorded series it reads.
 * Grafana's $__range follows the time picker and is not bounded here (docs/stack.md, Retention).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "yaml";
import { composeServices, REPO_ROOT } from "./helpers.ts";

const UNIT_SECONDS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86_400,
  w: 7 * 86_400,
  y: 365 * 86_400,
};
const DAY = 86_400;

/** A Prometheus duration (`30d`, `1h30m`) in seconds. */
function durationSeconds(text: string): number {
  const parts = [...text.matchAll(/(\d+)(ms|[smhdwy])/g)];
  assert.equal(parts.map((p) => p[0]).join(""), text, `not a Prometheus duration: ${text}`);
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNIT_SECONDS[unit], 0);
}

/** The longest `[range]` (subqueries included) plus the longest `offset` of one expression. */
function selectorWindow(expr: string): number {
  const ranges = [...expr.matchAll(/\[((?:\d+(?:ms|[smhdwy]))+)(?::[^\]]*)?\]/g)]
    .map((m) => durationSeconds(m[1]));
  const offsets = [...expr.matchAll(/\boffset\s+((?:\d+(?:ms|[smhdwy]))+)/g)]
    .map((m) => durationSeconds(m[1]));
  return Math.max(0, ...ranges) + Math.max(0, ...offsets);
}

interface RuleFile {
  groups: Array<{ rules: Array<{ record?: string; alert?: string; expr: string }> }>;
}

/** Every expression with where it comes from, recorded series resolved to their own windows. */
async function expressionWindows(): Promise<Array<{ where: string; seconds: number }>> {
  const rules: Array<{ where: string; record?: string; expr: string }> = [];
  for await (const entry of Deno.readDir(join(REPO_ROOT, "alerts"))) {
    if (!entry.name.endsWith(".rules.yml")) continue;
    const file = parse(await Deno.readTextFile(join(REPO_ROOT, "alerts", entry.name))) as RuleFile;
    for (const group of file.groups) {
      for (const rule of group.rules) {
        rules.push({
          where: `alerts/${entry.name} ${rule.record ?? rule.alert}`,
          record: rule.record,
          expr: rule.expr,
        });
      }
    }
  }
  const panels: Array<{ where: string; expr: string }> = [];
  for await (const entry of Deno.readDir(join(REPO_ROOT, "dashboards/generated"))) {
    if (!entry.name.endsWith(".json")) continue;
    const text = await Deno.readTextFile(join(REPO_ROOT, "dashboards/generated", entry.name));
    const dashboard = JSON.parse(text);
    const from = /^now-(\S+)$/.exec(dashboard.time?.from ?? "")?.[1];
    if (from) panels.push({ where: `${entry.name} default time range`, expr: `[${from}]` });
    for (const [, expr] of text.matchAll(/"expr":\s*("(?:[^"\\]|\\.)*")/g)) {
      panels.push({ where: `dashboards/generated/${entry.name}`, expr: JSON.parse(expr) });
    }
  }
  // A rule reading a recorded series reads that series' window too; records may chain.
  const recorded = new Map<string, number>();
  const windowOf = (expr: string, depth = 0): number => {
    assert.ok(depth < 10, `recording rules loop around ${expr}`);
    let inner = 0;
    for (const rule of rules) {
      if (rule.record && new RegExp(`(?<![\\w:])${rule.record}(?![\\w:])`).test(expr)) {
        const seconds = recorded.get(rule.record) ?? windowOf(rule.expr, depth + 1);
        recorded.set(rule.record, seconds);
        inner = Math.max(inner, seconds);
      }
    }
    return selectorWindow(expr) + inner;
  };
  return [...rules, ...panels].map(({ where, expr }) => ({ where, seconds: windowOf(expr) }));
}

Deno.test("a window is its longest range plus its offset, subqueries and compound durations included", () => {
  assert.equal(selectorWindow("increase(x[30d])"), 30 * DAY);
  assert.equal(selectorWindow("rate(x[1h30m]) / rate(x[5m] offset 6h)"), 5400 + 6 * 3600);
  assert.equal(selectorWindow("max_over_time(rate(x[5m])[7d:1h])"), 7 * DAY);
  assert.equal(selectorWindow("sum(increase(x[$__range]))"), 0);
  assert.throws(() => durationSeconds("30x"), /not a Prometheus duration/);
});

Deno.test("Prometheus keeps a day more than the longest window any panel or rule reads", async () => {
  const services = await composeServices();
  const flag = services.prometheus.command?.find((arg) =>
    arg.startsWith("--storage.tsdb.retention.time=")
  );
  assert.ok(flag, "prometheus has no --storage.tsdb.retention.time (the default is 15 days)");
  const retention = durationSeconds(flag.split("=")[1]);
  const windows = await expressionWindows();
  assert.ok(windows.length > 30, `only ${windows.length} expressions found`);
  const longest = windows.reduce((a, b) => (b.seconds > a.seconds ? b : a));
  // The overview's 30-day spend: if it is gone, this test should be looked at again.
  assert.ok(longest.seconds >= 30 * DAY, `longest window ${longest.seconds} s at ${longest.where}`);
  const tooLong = windows.filter((w) => w.seconds + DAY > retention)
    .map((w) => `${w.where}: ${w.seconds / DAY} days`);
  assert.deepEqual(tooLong, [], `retention is ${retention / DAY} days`);
});
