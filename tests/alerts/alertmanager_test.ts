/**
 * stack/alertmanager: amtool accepts the config and its templates, routes each shipped alert
 * (one `amtool config routes test` per alert, with the labels its promtool tests expect it to
 * carry) to the right receiver, the templates show tenant, spend, threshold and the dashboard,
 * and a real Alertmanager mutes a tenant's warnings, and only that tenant's, while the tenant has
 * a critical alert.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { stackBinaries } from "../../scripts/stack/binaries.ts";
import { eventually, within } from "../helpers/poll.ts";
import { alertsOf, loadRuleFiles, loadTestFiles, REPO_ROOT, runTool } from "./rule_files.ts";

const { amtool, alertmanager } = await stackBinaries(REPO_ROOT);
const CONFIG = "stack/alertmanager/alertmanager.yml";
const alerts = alertsOf(await loadRuleFiles());
const testFiles = await loadTestFiles();

/** An alert's labels and annotations as its promtool tests expect them when it fires. */
function firingExample(
  alertname: string,
): { labels: Record<string, string>; annotations: Record<string, string> } {
  for (const file of testFiles) {
    for (const group of file.tests) {
      for (const testCase of group.alert_rule_test ?? []) {
        const expected = testCase.alertname === alertname ? testCase.exp_alerts?.[0] : undefined;
        if (expected) {
          const { exp_labels: labels = {}, exp_annotations: annotations = {} } = expected as {
            exp_labels?: Record<string, string>;
            exp_annotations?: Record<string, string>;
          };
          return { labels: { alertname, ...labels }, annotations };
        }
      }
    }
  }
  throw new Error(`no promtool test expects ${alertname} to fire`);
}

Deno.test("amtool check-config accepts the config, its inhibit rule, receivers and templates", async () => {
  const { code, output } = await runTool(amtool, ["check-config", CONFIG]);
  assert.equal(code, 0, output);
  const found = Object.fromEntries(
    [...output.matchAll(/^ - (\d+) (inhibit rules|receivers|templates)$/gm)].map((
      m,
    ) => [m[2], Number(m[1])]),
  );
  assert.deepEqual(found, { "inhibit rules": 1, receivers: 2, templates: 1 }, output);
});

Deno.test("every shipped alert routes to oncall when critical, else to the default webhook (one amtool call per alert)", async () => {
  let calls = 0;
  for (const alert of alerts) {
    const { labels } = firingExample(alert.alert);
    const expected = labels.severity === "critical" ? "oncall" : "alert-receiver";
    const pairs = Object.entries(labels).map(([key, value]) => `${key}=${value}`);
    const { code, output } = await runTool(amtool, [
      "config",
      "routes",
      "test",
      `--config.file=${CONFIG}`,
      `--verify.receivers=${expected}`,
      ...pairs,
    ]);
    calls++;
    assert.equal(code, 0, `${alert.alert} (${pairs.join(" ")}): ${output}`);
    assert.equal(output.trim().split("\n")[0], expected, alert.alert);
  }
  // An alert from elsewhere, with no severity, still reaches the webhook.
  const other = await runTool(amtool, [
    "config",
    "routes",
    "test",
    `--config.file=${CONFIG}`,
    "--verify.receivers=alert-receiver",
    "alertname=SomethingElse",
  ]);
  calls++;
  assert.equal(other.code, 0, other.output);
  console.log(`amtool config routes test: ${calls} calls passed`);
});

/** `Key: value` lines of a rendered plain-text notification. */
function fields(text: string): Record<string, string> {
  return Object.fromEntries(
    [...text.matchAll(/^(Tenant|Spend|Threshold|Dashboard|Runbook): (.*)$/gm)].map((m) => [
      m[1],
      m[2],
    ]),
  );
}

async function render(template: string, data: unknown, type = "text"): Promise<string> {
  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(file, JSON.stringify(data));
    const { code, output } = await runTool(amtool, [
      "template",
      "render",
      "--template.glob=stack/alertmanager/templates/*.tmpl",
      `--template.type=${type}`,
      `--template.text=${template}`,
      `--template.data=${file}`,
    ]);
    assert.equal(code, 0, output);
    return output;
  } finally {
    await Deno.remove(file);
  }
}

function notification(alertname: string, groupLabels: Record<string, string>) {
  const { labels, annotations } = firingExample(alertname);
  return {
    receiver: "oncall",
    status: "firing",
    groupLabels,
    commonLabels: labels,
    commonAnnotations: annotations,
    externalURL: "http://127.0.0.1:9093",
    alerts: [{
      status: "firing",
      labels,
      annotations,
      startsAt: "2026-11-25T12:00:00Z",
      endsAt: "0001-01-01T00:00:00Z",
      generatorURL: "http://127.0.0.1:9090/graph",
      fingerprint: "0123456789abcdef",
    }],
  };
}

Deno.test("the notification shows tenant, spend, threshold and the tenant's dashboard", async () => {
  const data = notification("InferenceCostHigh", {
    alertname: "InferenceCostHigh",
    tenant: "team-internal",
  });
  const title = await render('{{ template "ict.title" . }}', data);
  assert.equal(title.trim(), "[FIRING:1] InferenceCostHigh, tenant team-internal");
  const text = fields(await render('{{ template "ict.text" . }}', data));
  assert.deepEqual(text, {
    Tenant: "team-internal",
    Spend: "$12.00/hour",
    Threshold: "$10.00/hour",
    Dashboard: "http://127.0.0.1:3000/d/ict-tenant-drilldown?var-tenant=team-internal",
    Runbook: "alerts/RUNBOOK.md#inferencecosthigh",
  });
  const html = await render('{{ template "ict.email.html" . }}', data, "html");
  const cells = Object.fromEntries(
    [...html.matchAll(/<tr><th align="left">(\w+)<\/th><td>(.*?)<\/td><\/tr>/g)].map((m) => [
      m[1],
      m[2],
    ]),
  );
  assert.equal(cells.Tenant, "team-internal");
  assert.equal(cells.Spend, "$12.00/hour");
  assert.equal(cells.Threshold, "$10.00/hour");
  assert.match(
    cells.Dashboard,
    /href="http:\/\/127\.0\.0\.1:3000\/d\/ict-tenant-drilldown\?var-tenant=team-internal"/,
  );
});

Deno.test("an alert without a tenant links the cost overview and says it is no tenant's", async () => {
  const data = notification("InferenceCostPerRequestSpike", {
    alertname: "InferenceCostPerRequestSpike",
  });
  const text = fields(await render('{{ template "ict.text" . }}', data));
  assert.equal(text.Tenant, "none (not one tenant's alert)");
  assert.equal(text.Spend, "$0.4800 per request (p95)");
  assert.equal(text.Threshold, "$0.10 per request (p95)");
  assert.equal(text.Dashboard, "http://127.0.0.1:3000/d/ict-cost-overview");
});

/** A free port on 127.0.0.1 (closed again, so the process can take it). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

interface ApiAlert {
  labels: Record<string, string>;
  status: { state: string; inhibitedBy: string[] };
}

Deno.test("a tenant's critical alert mutes that tenant's warnings only; an alert without a tenant mutes nothing", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "ict-am-" });
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const process = new Deno.Command(alertmanager, {
    args: [
      `--config.file=${join(REPO_ROOT, CONFIG)}`,
      `--storage.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--cluster.listen-address=",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(process.stderr).text();
  try {
    await eventually("alertmanager ready", within(20_000), async () => {
      const response = await fetch(`${url}/-/ready`);
      await response.body?.cancel();
      if (!response.ok) throw new Error(`status ${response.status}`);
      return true;
    });

    const startsAt = new Date().toISOString();
    const endsAt = new Date(Date.now() + 3_600_000).toISOString();
    const sent = [
      { alertname: "InferenceBudgetExhaustionSoon", severity: "critical", tenant: "team-internal" },
      { alertname: "InferenceCostHigh", severity: "warning", tenant: "team-internal" },
      { alertname: "InferenceCostHigh", severity: "warning", tenant: "team-chat" },
      { alertname: "InferenceAppDown", severity: "critical", instance: "app:8000" },
      { alertname: "InferenceCollectorDown", severity: "warning", instance: "otel:8888" },
      { alertname: "InferenceUpstreamErrorRatioHigh", severity: "warning", model: "gpt-4o" },
    ];
    const posted = await fetch(`${url}/api/v2/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(sent.map((labels) => ({ labels, startsAt, endsAt }))),
    });
    assert.equal(posted.status, 200, await posted.text());

    const key = (labels: Record<string, string>) =>
      `${labels.alertname}/${labels.tenant ?? labels.instance ?? labels.model}`;
    const inhibited = await eventually(
      "every alert in and one inhibited",
      within(20_000),
      async () => {
        const alerts = await (await fetch(`${url}/api/v2/alerts`)).json() as ApiAlert[];
        const now = alerts.filter((a) => a.status.inhibitedBy.length > 0).map((a) => key(a.labels));
        if (alerts.length === sent.length && now.length > 0) return now;
        throw new Error(`${alerts.length} alerts, inhibited: ${JSON.stringify(now)}`);
      },
    );
    assert.deepEqual(inhibited, ["InferenceCostHigh/team-internal"]);
  } finally {
    process.kill("SIGTERM");
    await process.status;
    await stderr;
    await Deno.remove(dataDir, { recursive: true });
  }
});
