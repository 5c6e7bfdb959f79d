/**
 * The cost alerts on the live native stack, shipped rules and windows unchanged: a calm scenario
 * leaves nothing pending or firing for three minutes, then the runaway-tenant scenario makes
 * InferenceCostHigh fire in Prometheus, reach Alertmanager and arrive at the webhook receiver
 * within the bound `spike --verify` prints (about seven minutes with `for: 5m`). Bounded at
 * 16 minutes; the stack is stopped in `finally`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, startStack } from "../../scripts/stack.ts";
import type { SpikeReport } from "../../scripts/spike/report.ts";
import { eventually, within } from "../helpers/poll.ts";
import { todaysPriceFile } from "../helpers/prices.ts";

const TEST_BOUND_MS = 16 * 60_000;

interface SpikeRun {
  code: number;
  report?: SpikeReport;
  log: string;
}

/** Runs `scripts/spike.ts` with deno task spike's permissions, killed if it outlives `timeoutMs`. */
async function spike(args: string[], timeoutMs: number): Promise<SpikeRun> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      join(REPO_ROOT, "scripts/spike.ts"),
      ...args,
      "--json",
    ],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const decoder = new TextDecoder();
  const stdout = decoder.decode(output.stdout).trim();
  const last = stdout.split("\n").at(-1);
  return {
    code: output.code,
    report: last?.startsWith("{") ? JSON.parse(last) as SpikeReport : undefined,
    log: decoder.decode(output.stderr),
  };
}

Deno.test({
  name:
    "calm leaves every alert quiet for 3 minutes; runaway-tenant fires InferenceCostHigh through Alertmanager to the webhook",
  // The stack's processes and the test's fetches are all ended in finally.
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const testDeadline = Date.now() + TEST_BOUND_MS;
  // Dated today, so the price table's age alert stays quiet in the calm scenario.
  await using prices = await todaysPriceFile();
  const stack = await startStack({
    ports: "random",
    withApp: true,
    appEnv: { LOG_LEVEL: "warn", PRICING_FILE: prices.path },
    readyTimeoutMs: 120_000,
  });
  try {
    const { prometheus, alertmanager, alertReceiver } = stack.urls;
    const app = stack.urls.app!;
    const urls = [
      `--url=${app}`,
      `--prometheus=${prometheus}`,
      `--alertmanager=${alertmanager}`,
      `--receiver=${alertReceiver}`,
    ];

    // Until its first scrape of a job a fresh Prometheus finds no `up` series for it: the
    // absent() rules are pending for those seconds. The calm check starts once the app and the
    // collector are both scraped and all is quiet.
    const watched = ["inference-cost-tracker", "otel-collector"];
    await eventually(
      "the app and collector scraped and no alert active",
      within(120_000),
      async () => {
        const up = await (await fetch(
          `${prometheus}/api/v1/query?query=${encodeURIComponent("up")}`,
        )).json() as { data: { result: { metric: { job: string }; value: [number, string] }[] } };
        const upJobs = up.data.result.filter((r) => r.value[1] === "1").map((r) => r.metric.job);
        const alerts = await (await fetch(`${prometheus}/api/v1/alerts`)).json();
        return watched.every((job) => upJobs.includes(job)) && alerts.data.alerts.length === 0;
      },
      1_000,
    );

    const calm = await spike(["calm", "--duration=180", "--verify", ...urls], 300_000);
    assert.equal(calm.code, 0, calm.log);
    assert.ok(calm.report?.verify?.ok, calm.log);
    assert.deepEqual(calm.report.verify.quietSeen, []);
    assert.ok(calm.report.requests >= 170, `calm sent ${calm.report.requests} requests`);
    assert.equal(calm.report.failed, 0, calm.log);

    const remaining = testDeadline - Date.now();
    const runaway = await spike(["runaway-tenant", "--verify", ...urls], remaining - 30_000);
    assert.equal(runaway.code, 0, runaway.log);
    const report = runaway.report;
    assert.ok(report?.verify?.ok, runaway.log);
    const verify = report.verify;
    assert.ok(report.spendUsd >= 15, `runaway spent $${report.spendUsd}`);
    const [fired] = verify.alerts;
    assert.equal(fired.alertname, "InferenceCostHigh");
    assert.ok(fired.firingAfter !== undefined && fired.webhookAfter !== undefined);
    // `for: 5m` is the floor: Prometheus cannot fire it sooner after it turned pending.
    assert.ok(fired.firingAfter - fired.pendingAfter! >= 300, JSON.stringify(fired));
    console.log(
      `runaway-tenant: pending after ${fired.pendingAfter} s, firing after ${fired.firingAfter} s, ` +
        `in Alertmanager after ${fired.alertmanagerAfter} s, at the webhook after ` +
        `${fired.webhookAfter} s (bound: traffic + ${verify.boundSeconds} s)`,
    );

    // What the webhook got carries the numbers an on-call person needs.
    const received = await (await fetch(`${alertReceiver}/alerts`)).json() as {
      alerts: Array<
        {
          status: string;
          receiver: string;
          labels: Record<string, string>;
          annotations: Record<string, string>;
          generatorURL: string;
        }
      >;
    };
    const alert = received.alerts.find((a) =>
      a.status === "firing" && a.labels.alertname === "InferenceCostHigh" &&
      a.labels.tenant === "team-internal"
    );
    assert.ok(alert, JSON.stringify(received));
    assert.equal(alert.receiver, "alert-receiver");
    assert.equal(alert.labels.severity, "warning");
    assert.equal(alert.annotations.threshold, "$10.00/hour");
    const spend = Number(/^\$(\d+\.\d\d)\/hour$/.exec(alert.annotations.spend)?.[1]);
    assert.ok(spend > 10, alert.annotations.spend);
    assert.equal(alert.annotations.runbook_url, "alerts/RUNBOOK.md#inferencecosthigh");
    // Its link opens on this machine: Prometheus's native address, answering a page.
    assert.ok(alert.generatorURL.startsWith(`${prometheus}/graph?g0.expr=`), alert.generatorURL);
    const linked = await fetch(alert.generatorURL);
    assert.equal(linked.status, 200);
    assert.match(await linked.text(), /built from its Go module/);
  } finally {
    await stack.stop();
  }
});
