/**
 * The alert rules as a package: promtool accepts every rule file and passes every test file, each
 * rule file has its test file, every alert carries what an on-call person needs, and every alert
 * is tested in each situation that matters (firing, silent, just before its `for`, absent data,
 * real scrape labels, a counter reset, two replicas, a tenant on the default threshold).
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { stackBinaries } from "../../scripts/stack/binaries.ts";
import {
  alertsOf,
  durationSeconds,
  expandValues,
  hasCounterReset,
  loadRuleFiles,
  loadTestFiles,
  parseSeries,
  rawSelectorsOf,
  recordingsOf,
  REPO_ROOT,
  runTool,
  sectionAnchors,
  seriesMatches,
  TESTS_DIR,
} from "./rule_files.ts";

// Fails loudly, naming what is missing, when scripts/install-stack.sh has not built promtool.
const { promtool } = await stackBinaries(REPO_ROOT);
const ruleFiles = await loadRuleFiles();
const testFiles = await loadTestFiles();
const alerts = alertsOf(ruleFiles);
const recordings = recordingsOf(ruleFiles);

const run = (args: string[]) => runTool(promtool, args);

Deno.test("promtool check rules accepts every rule file and finds every rule in it", async () => {
  const paths = ruleFiles.map((file) => relative(REPO_ROOT, file.path));
  const { code, output } = await run(["check", "rules", ...paths]);
  assert.equal(code, 0, output);
  const found = new Map(
    [...output.matchAll(/^Checking (\S+)\n\s+SUCCESS: (\d+) rules found/gm)]
      .map((m) => [m[1], Number(m[2])]),
  );
  for (const file of ruleFiles) {
    const rules = file.groups.reduce((n, group) => n + group.rules.length, 0);
    assert.equal(found.get(relative(REPO_ROOT, file.path)), rules, `${file.name}: ${output}`);
  }
  assert.ok(alerts.length >= 14, `only ${alerts.length} alerts`);
});

Deno.test("promtool test rules passes every test group of every test file", async () => {
  const junit = await Deno.makeTempFile({ suffix: ".xml" });
  try {
    const paths = testFiles.map((file) => relative(REPO_ROOT, file.path));
    const { code, output } = await run(["test", "rules", `--junit=${junit}`, ...paths]);
    assert.equal(code, 0, output);
    const xml = await Deno.readTextFile(junit);
    const suites = [
      ...xml.matchAll(/<testsuite name="([^"]+)" tests="(\d+)" failures="(\d+)" errors="(\d+)"/g),
    ];
    assert.equal(suites.length, testFiles.length, xml);
    let groups = 0;
    for (const [, name, tests, failures, errors] of suites) {
      const file = testFiles.find((f) => relative(REPO_ROOT, f.path) === name);
      assert.ok(file, `promtool reported an unknown file ${name}`);
      assert.equal(Number(failures) + Number(errors), 0, `${name}: ${output}`);
      assert.equal(Number(tests), file.tests.length, `${name}: every test group ran`);
      groups += Number(tests);
    }
    const cases = testFiles.flatMap((f) => f.tests).reduce(
      (n, g) => n + (g.alert_rule_test?.length ?? 0) + (g.promql_expr_test?.length ?? 0),
      0,
    );
    console.log(
      `promtool: ${testFiles.length} files, ${groups} test groups, ${cases} cases passed`,
    );
  } finally {
    await Deno.remove(junit);
  }
});

Deno.test("each rule file has one test file, which loads it", () => {
  const testNames = testFiles.map((f) => f.name).sort();
  assert.deepEqual(testNames, ruleFiles.map((f) => f.name).sort());
  for (const file of testFiles) {
    assert.ok(
      file.rule_files.includes(`../${file.name}.rules.yml`),
      `${file.name}.test.yml does not load ../${file.name}.rules.yml`,
    );
  }
});

Deno.test("every alert has a severity, a summary, a description with its numbers and a runbook section", async () => {
  const anchors = await sectionAnchors(join(REPO_ROOT, "alerts/RUNBOOK.md"));
  const names = new Set<string>();
  for (const alert of alerts) {
    assert.ok(!names.has(alert.alert), `${alert.alert} is defined twice`);
    names.add(alert.alert);
    assert.ok(
      ["warning", "critical"].includes(alert.labels?.severity ?? ""),
      `${alert.alert}: severity must be warning or critical`,
    );
    const { summary, description, runbook_url: runbook } = alert.annotations ?? {};
    assert.ok(summary && summary.length > 10, `${alert.alert}: summary`);
    assert.ok(
      description && /\{\{[^}]*(\$value|query|\$labels)/.test(description),
      `${alert.alert}: the description must show the numbers (template values)`,
    );
    const anchor = /^alerts\/RUNBOOK\.md#([a-z0-9-]+)$/.exec(runbook ?? "")?.[1];
    assert.ok(anchor, `${alert.alert}: runbook_url must be alerts/RUNBOOK.md#<section>`);
    assert.ok(anchors.includes(anchor), `${alert.alert}: RUNBOOK.md has no section #${anchor}`);
  }
  const alertAnchors = alerts.map((a) => a.annotations!.runbook_url.split("#")[1]);
  assert.deepEqual(
    anchors.filter((anchor) => !alertAnchors.includes(anchor)),
    [],
    "RUNBOOK.md sections without an alert",
  );
});

Deno.test("every input series of the tests carries job and instance, as a real scrape's do", () => {
  for (const file of testFiles) {
    for (const group of file.tests) {
      for (const input of group.input_series) {
        const { labels } = parseSeries(input.series);
        assert.ok(labels.job && labels.instance, `${file.name}: ${input.series}`);
      }
    }
  }
});

/** Which situations a test group proves for an alert. */
function situations(alert: ReturnType<typeof alertsOf>[number], group: TestGroupView) {
  const cases = (group.alert_rule_test ?? []).filter((c) => c.alertname === alert.alert);
  const firing = cases.filter((c) => (c.exp_alerts ?? []).length > 0);
  const silent = cases.filter((c) => (c.exp_alerts ?? []).length === 0);
  const selectors = rawSelectorsOf(alert.expr, recordings);
  const series = group.input_series.map((input) => ({
    ...parseSeries(input.series),
    values: expandValues(input.values),
  }));
  const reading = series.filter((s) => selectors.some((sel) => seriesMatches(s, sel)));
  const step = durationSeconds(group.evaluationInterval);
  const justBefore = firing.some((f) =>
    silent.some((s) => durationSeconds(f.eval_time) - durationSeconds(s.eval_time) === step)
  );
  const absentAlert = /^\s*absent\(/.test(alert.expr);
  const someInputMissing = selectors.some((sel) => !series.some((s) => seriesMatches(s, sel)));
  const counters = reading.filter((s) => /_(total|count|bucket)$/.test(s.name));
  const instances = new Set(reading.map((s) => s.labels.instance));
  const thresholdTenants = new Set(
    series.filter((s) => s.name === "inference_cost_alert_threshold_usd").map((s) =>
      s.labels.tenant
    ),
  );
  return {
    fires: firing.length > 0,
    silent: silent.length > 0,
    justBefore,
    absentData: absentAlert ? firing.length > 0 : silent.length > 0 && someInputMissing,
    counterReset: firing.length > 0 && counters.some((s) => hasCounterReset(s.values)),
    twoReplicas: firing.length > 0 && instances.size >= 2,
    defaultThreshold: firing.some((c) =>
      (c.exp_alerts ?? []).some((a) =>
        a.exp_labels?.tenant && !thresholdTenants.has(a.exp_labels.tenant)
      )
    ),
  };
}

type TestGroupView = (typeof testFiles)[number]["tests"][number] & { evaluationInterval: string };

/** Situations that do not apply to an alert, and why (everything else must be tested). */
const NOT_APPLICABLE: Record<string, Partial<Record<string, string>>> = {
  counterReset: {
    InferenceAppDown: "reads up, a gauge",
    InferenceAppAbsent: "reads up, a gauge",
    InferenceCollectorDown: "reads up, a gauge",
    InferenceCollectorAbsent: "reads up, a gauge",
    InferenceCostMetricsMissing: "reads up and inference_pricing_info, gauges",
    InferencePricingStale: "reads the price table's effective date, a gauge",
  },
  twoReplicas: {
    InferenceAppAbsent: "fires when there is no replica at all",
    InferenceCollectorDown: "one collector per stack",
    InferenceCollectorAbsent: "fires when there is no collector at all",
  },
  justBefore: {},
};
/** Only the alerts that compare against a tenant's threshold have a default to fall back to. */
const USES_DEFAULT_THRESHOLD = ["InferenceCostHigh"];

Deno.test("every alert is tested firing, silent, just before its for, with absent data, a counter reset and two replicas", () => {
  const missing: string[] = [];
  for (const alert of alerts) {
    const found = {
      fires: false,
      silent: false,
      justBefore: false,
      absentData: false,
      counterReset: false,
      twoReplicas: false,
      defaultThreshold: false,
    };
    // Only a test file that loads the alert's rule file can prove anything about it.
    for (
      const file of testFiles.filter((f) => f.rule_files.includes(`../${alert.file}.rules.yml`))
    ) {
      for (const group of file.tests) {
        const view = { ...group, evaluationInterval: file.evaluation_interval ?? "1m" };
        for (const [key, value] of Object.entries(situations(alert, view))) {
          if (value) found[key as keyof typeof found] = true;
        }
      }
    }
    const required = Object.keys(found).filter((key) => {
      if (key === "defaultThreshold") return USES_DEFAULT_THRESHOLD.includes(alert.alert);
      if (key === "justBefore" && !alert.for) return false;
      return NOT_APPLICABLE[key]?.[alert.alert] === undefined;
    });
    for (const key of required) {
      if (!found[key as keyof typeof found]) missing.push(`${alert.alert}: ${key}`);
    }
  }
  assert.deepEqual(missing, [], "untested situations");
});

Deno.test("the coverage checks see what they look for", () => {
  assert.deepEqual(expandValues("0x2 1+2x2 _ _x2 5"), [0, 0, 0, 1, 3, 5, null, null, null, 5]);
  assert.ok(hasCounterReset(expandValues("0 4 _ 1 2")));
  assert.ok(!hasCounterReset(expandValues("0+1x5 _ 6")));
  const selectors = rawSelectorsOf(
    'sum by (tenant) (rate(x_total{job="a",s=~"b"}[5m])) > on (tenant) y and absent(up{job="c"})',
    new Map([["y", 'max(z{tenant="default"})']]),
  );
  assert.deepEqual(selectors, [
    { name: "x_total", equals: { job: "a" } },
    { name: "z", equals: { tenant: "default" } },
    { name: "up", equals: { job: "c" } },
  ]);
  assert.equal(relative(REPO_ROOT, TESTS_DIR), "alerts/tests");
});
