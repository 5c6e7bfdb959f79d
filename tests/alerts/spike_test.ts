/**
 * scripts/spike: the scenarios aim at the shipped rules (the timing table equals the rule files,
 * every expected alert exists), prompts are as long as they say, the traffic runner stops at its
 * spend target and bounds, only loopback targets are allowed by default, and the summary adds up.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { tokenCounter } from "../../src/tokens/count.ts";
import { assertAllowedTargets } from "../../scripts/spike.ts";
import { summaryTable } from "../../scripts/spike/report.ts";
import {
  ALERT_TIMING,
  fillerPrompt,
  PIPELINE_SECONDS,
  type Scenario,
  scenarioNamed,
  SCENARIOS,
  verifyBoundSeconds,
} from "../../scripts/spike/scenarios.ts";
import {
  billedTenant,
  parseThresholds,
  runTraffic,
  TUTORIAL_THRESHOLDS,
} from "../../scripts/spike/traffic.ts";
import { matches, waitForAlerts } from "../../scripts/spike/verify.ts";
import {
  DEFAULT_TARGETS,
  nativeStackTargets,
  resolveTargets,
} from "../../scripts/spike/endpoints.ts";
import { alertsOf, durationSeconds, loadRuleFiles, REPO_ROOT } from "./rule_files.ts";

const ruleFiles = await loadRuleFiles();
const alerts = alertsOf(ruleFiles);

Deno.test("the spike's timing table is the shipped rules' for and evaluation interval", () => {
  for (const [alertname, timing] of Object.entries(ALERT_TIMING)) {
    const group = ruleFiles.flatMap((f) => f.groups).find((g) =>
      g.rules.some((r) => "alert" in r && r.alert === alertname)
    );
    const rule = alerts.find((a) => a.alert === alertname);
    assert.ok(group && rule, `${alertname} is not a shipped alert`);
    assert.equal(durationSeconds(group.interval ?? "1m"), timing.evaluationSeconds, alertname);
    assert.equal(durationSeconds(rule.for ?? "0s"), timing.forSeconds, alertname);
  }
  const recording = ruleFiles.find((f) => f.name === "recording")!.groups[0];
  assert.equal(durationSeconds(recording.interval!), PIPELINE_SECONDS.recording);
});

Deno.test("the spike's pipeline delays are the stack's scrape interval and group_wait", async () => {
  const prometheus = parse(
    await Deno.readTextFile(`${REPO_ROOT}/stack/prometheus/prometheus.yml`),
  ) as { scrape_configs: Array<{ job_name: string; scrape_interval?: string }> };
  const job = prometheus.scrape_configs.find((c) => c.job_name === "inference-cost-tracker");
  assert.equal(durationSeconds(job?.scrape_interval ?? ""), PIPELINE_SECONDS.scrape);
  const alertmanager = parse(
    await Deno.readTextFile(`${REPO_ROOT}/stack/alertmanager/alertmanager.yml`),
  ) as { route: { group_wait: string } };
  assert.equal(durationSeconds(alertmanager.route.group_wait), PIPELINE_SECONDS.groupWait);
});

Deno.test("every scenario's expected alerts are shipped alerts with a timing", () => {
  const names = new Set(alerts.map((a) => a.alert));
  for (const scenario of SCENARIOS) {
    for (const expected of scenario.expectedAlerts) {
      assert.ok(names.has(expected.alertname), `${scenario.name}: ${expected.alertname}`);
      assert.ok(ALERT_TIMING[expected.alertname], `${scenario.name}: ${expected.alertname}`);
    }
  }
  // InferenceCostHigh: scrape 15 + recording 15 + evaluation 60 + for 300, then group_wait 10
  // and a 60 s margin.
  assert.equal(verifyBoundSeconds(scenarioNamed("runaway-tenant")!), 460);
  assert.equal(verifyBoundSeconds(scenarioNamed("calm")!), 0);
});

Deno.test("a filler prompt is about as many tokens as it says, in both tokenizers", () => {
  for (const name of ["o200k_base", "cl100k_base"] as const) {
    const counter = tokenCounter(name);
    for (const tokens of [400, 30_000]) {
      const counted = counter.count(fillerPrompt(tokens, 7));
      assert.ok(Math.abs(counted - tokens) / tokens < 0.01, `${name}: ${counted} for ${tokens}`);
    }
  }
  assert.notEqual(fillerPrompt(50, 1), fillerPrompt(50, 2));
});

Deno.test("only loopback targets are allowed unless a host is named", () => {
  assertAllowedTargets({
    url: "http://127.0.0.1:8000",
    prometheus: "http://localhost:9090",
    receiver: undefined,
  }, []);
  assert.throws(
    () => assertAllowedTargets({ url: "https://api.example.com" }, []),
    /--url https:\/\/api\.example\.com: only 127\.0\.0\.1\/localhost by default/,
  );
  assertAllowedTargets({ url: "http://app:8000", prometheus: "http://prometheus:9090" }, [
    "app",
    "prometheus",
  ]);
});

Deno.test("thresholds are read from the exposition; unknown tenants are billed as other", () => {
  const thresholds = parseThresholds([
    "# TYPE inference_cost_alert_threshold_usd gauge",
    'inference_cost_alert_threshold_usd{tenant="team-a"} 12.5',
    'inference_cost_alert_threshold_usd{tenant="default"} 25',
    'inference_cost_usd_total{model="gpt-4o",tenant="team-a"} 3',
  ].join("\n"));
  assert.deepEqual([...thresholds], [["team-a", 12.5], ["default", 25]]);
  assert.equal(billedTenant("team-a", thresholds), "team-a");
  assert.equal(billedTenant("team-unlisted", thresholds), "other");
  assert.ok(matches({ alertname: "A", labels: { tenant: "x" } }, {
    alertname: "A",
    tenant: "x",
    severity: "warning",
  }));
  assert.ok(!matches({ alertname: "A", labels: { tenant: "x" } }, { alertname: "A" }));
});

/** A fake app: every request costs `cost`, answered after `latencyMs` of fake time. */
function fakeApp(cost: number, latencyMs = 100, failEvery = 0) {
  let clock = 0;
  let calls = 0;
  const sleep = (ms: number) => {
    clock += ms;
    return Promise.resolve();
  };
  const fetcher = (async (_url: string, init?: RequestInit) => {
    calls++;
    const body = JSON.parse(String(init?.body));
    await sleep(latencyMs);
    if (failEvery > 0 && calls % failEvery === 0) {
      return Response.json({ error: { type: "budget_exceeded" } }, { status: 429 });
    }
    return Response.json({
      model: body.model,
      input_tokens: 1000,
      output_tokens: 10,
      cost_usd: cost,
    });
  }) as typeof fetch;
  return { now: () => clock, sleep, fetch: fetcher, calls: () => calls };
}

Deno.test("runaway-tenant stops once it has spent 1.5× the threshold, overshooting by less than its concurrency", async () => {
  const scenario = scenarioNamed("runaway-tenant")!;
  const app = fakeApp(0.075);
  const result = await runTraffic(scenario, {
    appUrl: "http://127.0.0.1:1",
    thresholds: TUTORIAL_THRESHOLDS,
    ...app,
  });
  const [totals] = result.totals;
  assert.equal(totals.tenant, "team-internal");
  assert.ok(totals.spendUsd >= 15, `spent ${totals.spendUsd}`);
  assert.ok(totals.spendUsd < 15 + scenario.concurrency * 0.075, `spent ${totals.spendUsd}`);
  assert.equal(result.stoppedBy, undefined);
  // Paced over about the scenario's spread, not sent in one burst.
  const seconds = (result.endedAt - result.startedAt) / 1000;
  assert.ok(
    seconds > scenario.spreadSeconds * 0.8 && seconds < scenario.spreadSeconds * 1.5,
    `${seconds} s`,
  );
});

Deno.test("the request and failure bounds stop a scenario and say why", async () => {
  const scenario = scenarioNamed("runaway-tenant")!;
  const bounded = await runTraffic(scenario, {
    appUrl: "http://127.0.0.1:1",
    thresholds: TUTORIAL_THRESHOLDS,
    maxRequests: 20,
    ...fakeApp(0.001),
  });
  assert.equal(bounded.totals[0].requests, 20);
  assert.equal(bounded.stoppedBy, "the 20-request bound");

  const failing = await runTraffic(scenario, {
    appUrl: "http://127.0.0.1:1",
    thresholds: TUTORIAL_THRESHOLDS,
    ...fakeApp(0.075, 100, 1),
  });
  assert.match(failing.stoppedBy ?? "", /more than half of \d+ requests failing/);
  assert.ok(failing.totals[0].requests < 20);
  assert.equal(failing.totals[0].errors.budget_exceeded, failing.totals[0].failed);
});

Deno.test("calm sends at its rate for its duration, across every stream", async () => {
  const base = scenarioNamed("calm")!;
  const scenario: Scenario = { ...base, rate: { requestsPerSecond: 1, seconds: 40 } };
  const result = await runTraffic(scenario, {
    appUrl: "http://127.0.0.1:1",
    thresholds: TUTORIAL_THRESHOLDS,
    ...fakeApp(0.0001),
  });
  const requests = result.totals.reduce((n, t) => n + t.requests, 0);
  assert.equal(requests, 40);
  assert.ok(result.totals.every((t) => t.requests === 5), "round-robin over 8 streams");
  const seconds = (result.endedAt - result.startedAt) / 1000;
  assert.ok(seconds >= 39 && seconds <= 41, `${seconds} s`);
});

Deno.test("the summary gives spend per tenant and model against each tenant's threshold", () => {
  const table = summaryTable([
    {
      tenant: "team-internal",
      requestedTenant: "team-internal",
      model: "gpt-4o",
      requests: 200,
      failed: 0,
      spendUsd: 15.02,
      inputTokens: 6e6,
      errors: {},
    },
    {
      tenant: "other",
      requestedTenant: "team-unlisted",
      model: "claude-opus-4.1",
      requests: 20,
      failed: 1,
      spendUsd: 30,
      inputTokens: 2e6,
      errors: { budget_exceeded: 1 },
    },
  ], TUTORIAL_THRESHOLDS);
  const rows = table.split("\n").map((line) => line.split(/\s{2,}/));
  const row = (first: string) => rows.find((r) => r[0] === first);
  assert.deepEqual(row("team-internal in all"), [
    "team-internal in all",
    "15.0200",
    "10.00",
    "150%",
  ]);
  assert.deepEqual(row("other in all"), ["other in all", "30.0000", "25.00", "120%"]);
  assert.deepEqual(row("other (sent as team-unlisted)"), [
    "other (sent as team-unlisted)",
    "claude-opus-4.1",
    "20",
    "1 (1 budget_exceeded)",
    "30.0000",
  ]);
  assert.deepEqual(row("total"), ["total", "220", "1", "45.0200"]);
});

Deno.test("the spike's targets: flags, then environment, then the running native stack, then defaults", async () => {
  const native = () =>
    Promise.resolve({
      app: "http://127.0.0.1:18000",
      prometheus: "http://127.0.0.1:19090",
      alertmanager: "http://127.0.0.1:19093",
      receiver: "http://127.0.0.1:19095",
    });
  const mixed = await resolveTargets(
    { app: "http://127.0.0.1:7000/" },
    { prometheus: "http://prometheus:9090" },
    native,
  );
  assert.deepEqual(mixed.targets, {
    app: "http://127.0.0.1:7000",
    prometheus: "http://prometheus:9090",
    alertmanager: "http://127.0.0.1:19093",
    receiver: "http://127.0.0.1:19095",
  });
  assert.match(mixed.source, /native stack/);
  const none = await resolveTargets({}, {}, () => Promise.resolve(undefined));
  assert.deepEqual(none.targets, DEFAULT_TARGETS);
  assert.match(none.source, /default ports/);
  // All four given: the native stack is not even looked at.
  const given = await resolveTargets({}, { ...DEFAULT_TARGETS }, () => {
    throw new Error("looked");
  });
  assert.equal(given.source, "the flags and environment");
});

Deno.test("the native stack's URLs are read from its state file only while its Prometheus answers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ict-spike-state-" });
  const prometheus = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) =>
      new URL(request.url).pathname === "/-/ready"
        ? new Response("Prometheus Server is Ready.")
        : new Response("not found", { status: 404 }),
  );
  try {
    const urls = {
      app: "http://127.0.0.1:18000",
      prometheus: `http://127.0.0.1:${prometheus.addr.port}`,
      alertmanager: "http://127.0.0.1:19093",
      alertReceiver: "http://127.0.0.1:19095",
    };
    const file = `${dir}/stack.json`;
    await Deno.writeTextFile(file, JSON.stringify({ launcherPid: 1, urls }));
    assert.deepEqual(await nativeStackTargets(file), {
      app: urls.app,
      prometheus: urls.prometheus,
      alertmanager: urls.alertmanager,
      receiver: urls.alertReceiver,
    });
    await prometheus.shutdown();
    assert.equal(await nativeStackTargets(file), undefined);
    assert.equal(await nativeStackTargets(`${dir}/missing.json`), undefined);
  } finally {
    await prometheus.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("while it waits for an alert the spike reports progress at least every heartbeat, errors included", async () => {
  let clock = 0;
  let calls = 0;
  const fakeFetch = ((input: string | URL | Request) => {
    calls++;
    const url = String(input);
    if (calls <= 3) return Promise.reject(new TypeError("connection refused"));
    if (url.endsWith("/api/v1/alerts")) {
      return Promise.resolve(Response.json({ data: { alerts: [] } }));
    }
    if (url.endsWith("/api/v2/alerts")) return Promise.resolve(Response.json([]));
    return Promise.resolve(Response.json({ alerts: [] }));
  }) as typeof fetch;
  const lines: Array<[number, string]> = [];
  const result = await waitForAlerts({
    endpoints: {
      prometheus: "http://p",
      alertmanager: "http://a",
      receiver: "http://r",
    },
    expected: [{ alertname: "InferenceCostHigh", labels: { tenant: "t" } }],
    deadline: 120_000,
    log: (line) => lines.push([clock, line]),
    intervalMs: 5_000,
    heartbeatMs: 30_000,
    now: () => clock,
    sleep: (ms) => Promise.resolve(void (clock += ms)),
    fetch: fakeFetch,
  });
  assert.equal(result.ok, false);
  assert.match(lines[0][1], /^cannot ask yet: connection refused \(120 s left\)$/);
  assert.ok(lines.some(([, line]) => line === 'InferenceCostHigh{tenant="t"}: not yet'));
  assert.ok(
    lines.some(([, line]) => /^still .*: not yet \(\d+ s left\)$/.test(line)),
    lines.join("\n"),
  );
  // Never more than a heartbeat (plus one poll) without a line.
  const times = [0, ...lines.map(([at]) => at), 120_000];
  for (let i = 1; i < times.length; i++) {
    assert.ok(times[i] - times[i - 1] <= 35_000, `silent from ${times[i - 1]} to ${times[i]}`);
  }
});
