/**
 * Spike simulation: drives a named scenario of priced traffic at the app and, with --verify,
 * proves the shipped cost alerts fire on the live stack (Prometheus fires them, Alertmanager has
 * them, the webhook receiver got them) within a bound it prints — or that a calm scenario fires
 * none.
 *
 *   deno task spike [SCENARIO] [--url URL] [--prometheus URL] [--alertmanager URL]
 *                   [--receiver URL] [--verify] [--json] [--no-prime] [--duration SECONDS]
 *                   [--max-requests N] [--max-seconds N] [--allow-host HOST ...] [--list]
 *
 * Targets: the flags, else APP_URL, PROMETHEUS_URL, ALERTMANAGER_URL, ALERT_RECEIVER_URL from the
 * environment (compose's spike service sets them), else the native stack `deno task stack` runs
 * from this checkout, else the default ports on 127.0.0.1 (see ./spike/endpoints.ts). --verify
 * follows each expected alert to the webhook receiver too. SPIKE_SCENARIO names the scenario.
 * Only 127.0.0.1/localhost targets are allowed unless a host is named with --allow-host (or
 * SPIKE_ALLOW_HOSTS=app,prometheus,...): a scenario spends real money on a real gateway.
 * Exit codes: 0 done (and verified), 1 verification or traffic failed, 2 bad usage.
 */
import process from "node:process";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { after, formatSeconds, spikeReport, summaryTable, verifyTable } from "./spike/report.ts";
import {
  PIPELINE_SECONDS,
  type Scenario,
  scenarioNamed,
  SCENARIOS,
  verifyBoundSeconds,
} from "./spike/scenarios.ts";
import {
  billedTenant,
  parseThresholds,
  runTraffic,
  type Thresholds,
  TUTORIAL_THRESHOLDS,
} from "./spike/traffic.ts";
import { resolveTargets } from "./spike/endpoints.ts";
import {
  describeAlert,
  type Endpoints,
  loadedAlertNames,
  seriesScraped,
  waitForAlerts,
  watchQuiet,
} from "./spike/verify.ts";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/** Throws unless every URL's host is loopback or explicitly allowed. */
export function assertAllowedTargets(
  urls: Record<string, string | undefined>,
  allowedHosts: readonly string[],
): void {
  for (const [name, url] of Object.entries(urls)) {
    if (url === undefined) continue;
    let host: string;
    try {
      host = new URL(url).hostname;
    } catch {
      throw new UsageError(`--${name} is not a URL: ${url}`);
    }
    if (!LOOPBACK.has(host) && !allowedHosts.includes(host)) {
      throw new UsageError(
        `--${name} ${url}: only 127.0.0.1/localhost by default; name the host with ` +
          `--allow-host ${host} (or SPIKE_ALLOW_HOSTS) if you mean it`,
      );
    }
  }
}

class UsageError extends Error {
  override name = "UsageError";
}

function envIfAllowed(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  return state === "granted" ? Deno.env.get(name) : undefined;
}

const say = (line: string) => console.error(`spike: ${line}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The app's own thresholds from /metrics, or the tutorial's when it cannot be read. */
async function fetchThresholds(appUrl: string): Promise<Thresholds> {
  try {
    const response = await fetch(`${appUrl}/metrics`, {
      headers: { accept: "text/plain" },
      signal: AbortSignal.timeout(10_000),
    });
    const thresholds = parseThresholds(await response.text());
    if (thresholds.size > 0) return thresholds;
    say(`${appUrl}/metrics has no inference_cost_alert_threshold_usd: using the tutorial's`);
  } catch (error) {
    say(`cannot read ${appUrl}/metrics (${error}): using the tutorial's thresholds`);
  }
  return TUTORIAL_THRESHOLDS;
}

/**
 * One tiny request per tenant and model the scenario uses, then wait until Prometheus has
 * scraped them: the app creates a counter on its first request, and rate() only counts what
 * happens after a series' first scrape — spend before it would be invisible to the alerts.
 */
async function prime(
  scenario: Scenario,
  appUrl: string,
  thresholds: Thresholds,
  prometheus: string | undefined,
): Promise<void> {
  const pairs = new Map<string, { tenant: string; requested: string; model: string }>();
  for (const stream of scenario.streams) {
    const tenant = billedTenant(stream.tenant, thresholds);
    pairs.set(`${tenant}/${stream.model}`, {
      tenant,
      requested: stream.tenant,
      model: stream.model,
    });
  }
  for (const pair of pairs.values()) {
    const response = await fetch(`${appUrl}/v1/inference`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        prompt: "ping",
        model: pair.model,
        tenant: pair.requested,
        max_tokens: 1,
      }),
    });
    if (!response.ok) {
      throw new Error(
        `priming ${pair.model} for ${pair.tenant}: HTTP ${response.status} ${await response
          .text()}`,
      );
    }
    await response.body?.cancel();
  }
  const bound = 4 * PIPELINE_SECONDS.scrape;
  if (!prometheus) {
    say(
      `primed ${pairs.size} series; no Prometheus to ask, so waiting one scrape (${
        PIPELINE_SECONDS.scrape + 5
      } s)`,
    );
    await sleep((PIPELINE_SECONDS.scrape + 5) * 1000);
    return;
  }
  say(`primed ${pairs.size} series; waiting (up to ${bound} s) for Prometheus to scrape them`);
  const deadline = Date.now() + bound * 1000;
  let lastError = "";
  while (Date.now() < deadline) {
    try {
      if (await seriesScraped(prometheus, [...pairs.values()])) return;
    } catch (error) {
      lastError = ` (last error: ${error})`;
    }
    await sleep(1_000);
  }
  say(
    `Prometheus has not scraped them after ${bound} s${lastError}; going on (the first seconds of spend may not count)`,
  );
}

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: "string" },
      prometheus: { type: "string" },
      alertmanager: { type: "string" },
      receiver: { type: "string" },
      verify: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      "no-prime": { type: "boolean", default: false },
      duration: { type: "string" },
      "max-requests": { type: "string" },
      "max-seconds": { type: "string" },
      "allow-host": { type: "string", multiple: true, default: [] },
      list: { type: "boolean", default: false },
    },
  });
  if (values.list) {
    for (const s of SCENARIOS) console.log(`${s.name.padEnd(16)} ${s.summary}`);
    return 0;
  }
  const name = positionals[0] ?? envIfAllowed("SPIKE_SCENARIO") ?? "runaway-tenant";
  const base = scenarioNamed(name);
  if (!base) {
    throw new UsageError(
      `no scenario ${name}; --list shows ${SCENARIOS.map((s) => s.name).join(", ")}`,
    );
  }
  const number = (flag: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) {
      throw new UsageError(`--${flag} must be a positive number`);
    }
    return value;
  };
  const duration = number("duration", values.duration);
  if (duration !== undefined && !base.rate) throw new UsageError(`--duration applies to calm only`);
  const scenario: Scenario = duration !== undefined && base.rate
    ? {
      ...base,
      rate: { ...base.rate, seconds: duration },
      maxSeconds: Math.max(base.maxSeconds, duration + 60),
    }
    : base;

  const { targets, source } = await resolveTargets(
    {
      app: values.url,
      prometheus: values.prometheus,
      alertmanager: values.alertmanager,
      receiver: values.receiver,
    },
    {
      app: envIfAllowed("APP_URL"),
      prometheus: envIfAllowed("PROMETHEUS_URL"),
      alertmanager: envIfAllowed("ALERTMANAGER_URL"),
      receiver: envIfAllowed("ALERT_RECEIVER_URL"),
    },
  );
  const appUrl = targets.app;
  const endpoints: Endpoints = {
    prometheus: targets.prometheus,
    alertmanager: targets.alertmanager,
    receiver: targets.receiver,
  };
  say(
    `stack (from ${source}): app ${appUrl}, Prometheus ${endpoints.prometheus}, ` +
      `Alertmanager ${endpoints.alertmanager}, webhook receiver ${endpoints.receiver}`,
  );
  const allowed = [
    ...values["allow-host"],
    ...(envIfAllowed("SPIKE_ALLOW_HOSTS") ?? "").split(",").map((h) => h.trim()).filter(Boolean),
  ];
  assertAllowedTargets({ url: appUrl, ...endpoints }, allowed);

  const thresholds = await fetchThresholds(appUrl);
  const maxRequests = number("max-requests", values["max-requests"]);
  const maxSeconds = number("max-seconds", values["max-seconds"]);
  say(`scenario ${scenario.name}: ${scenario.summary}`);
  say(`aiming at: ${scenario.aim}`);
  say(
    `bounds: ${Math.min(scenario.maxRequests, maxRequests ?? Infinity)} requests, ` +
      `${Math.min(scenario.maxSeconds, maxSeconds ?? Infinity)} s of traffic, against ${appUrl}`,
  );
  if (values.verify) {
    if (scenario.expectedAlerts.length > 0) {
      const loaded = await loadedAlertNames(endpoints.prometheus);
      const missing = scenario.expectedAlerts.map((a) => a.alertname).filter((n) => !loaded.has(n));
      if (missing.length > 0) {
        say(
          `Prometheus at ${endpoints.prometheus} has no rule ${
            missing.join(", ")
          }: are alerts/*.rules.yml loaded?`,
        );
        return 1;
      }
      say(`expects: ${scenario.expectedAlerts.map(describeAlert).join(", ")}`);
    } else {
      say("expects: no alert pending or firing, in Prometheus or Alertmanager, while it runs");
    }
  }

  const startedAt = Date.now();
  if (scenario.expectedAlerts.length > 0 && !values["no-prime"]) {
    await prime(scenario, appUrl, thresholds, values.verify ? endpoints.prometheus : undefined);
  }

  const bar = new cliProgress.SingleBar({
    format: " {bar} {value}/{total} requests | ${spend} | {duration_formatted}",
    stream: process.stderr,
    noTTYOutput: true,
    notTTYSchedule: 10_000,
    hideCursor: true,
  }, cliProgress.Presets.shades_classic);
  bar.start(1, 0, { spend: "0.0000" });
  // Calm is watched while it runs; every other --verify waits after the traffic.
  const quiet = values.verify && scenario.expectedAlerts.length === 0
    ? watchQuiet({
      endpoints,
      deadline: startedAt + ((scenario.rate?.seconds ?? scenario.maxSeconds) + 5) * 1000,
      log: say,
    })
    : undefined;
  const traffic = await runTraffic(scenario, {
    appUrl,
    thresholds,
    maxRequests,
    maxSeconds,
    onResponse: ({ done, estimatedTotal, spendUsd }) => {
      bar.setTotal(estimatedTotal);
      bar.update(done, { spend: spendUsd.toFixed(4) });
    },
  });
  bar.stop();

  const report = spikeReport(scenario, traffic, startedAt);
  const out = values.json ? console.error : console.log;
  out(
    `\n${scenario.name}: ${report.requests} requests in ${formatSeconds(report.trafficSeconds)}, $${
      report.spendUsd.toFixed(4)
    }${traffic.stoppedBy ? `; stopped by ${traffic.stoppedBy}` : ""}`,
  );
  out(summaryTable(traffic.totals, thresholds));
  let status = report.requests > 0 && report.failed < report.requests ? 0 : 1;

  if (values.verify) {
    if (quiet) {
      const result = await quiet;
      report.verify = {
        ok: result.ok,
        boundSeconds: (scenario.rate?.seconds ?? scenario.maxSeconds) + 5,
        alerts: [],
        quietSeen: result.seen,
        error: result.lastError,
      };
      if (result.ok) {
        out(
          `verify: no alert pending or firing for ${
            formatSeconds((Date.now() - startedAt) / 1000)
          }`,
        );
      } else {out(
          `verify: FAILED: ${
            result.seen.length > 0 ? result.seen.join("; ") : `could not ask (${result.lastError})`
          }`,
        );}
      if (!result.ok) status = 1;
    } else {
      const bound = verifyBoundSeconds(scenario);
      const deadline = traffic.endedAt + bound * 1000;
      say(
        `verify: waiting up to ${formatSeconds(bound)} after the traffic (until ${
          new Date(deadline).toISOString()
        }) ` +
          `for ${
            scenario.expectedAlerts.map(describeAlert).join(", ")
          } to fire in Prometheus and reach Alertmanager and the webhook receiver`,
      );
      const result = await waitForAlerts({
        endpoints,
        expected: scenario.expectedAlerts,
        deadline,
        log: (line) => say(`verify ${formatSeconds((Date.now() - startedAt) / 1000)}: ${line}`),
      });
      report.verify = {
        ok: result.ok,
        boundSeconds: bound,
        error: result.lastError,
        alerts: result.progress.map((p) => ({
          alertname: p.expected.alertname,
          labels: p.expected.labels,
          pendingAfter: after(p.pendingAt, startedAt),
          firingAfter: after(p.firingAt, startedAt),
          alertmanagerAfter: after(p.alertmanagerAt, startedAt),
          webhookAfter: after(p.receiverAt, startedAt),
        })),
      };
      out(verifyTable(result.progress, startedAt));
      out(
        result.ok
          ? "verify: every expected alert fired and arrived"
          : `verify: FAILED within ${formatSeconds(bound)}${
            result.lastError ? ` (last error: ${result.lastError})` : ""
          }`,
      );
      if (!result.ok) status = 1;
    }
  }
  if (values.json) console.log(JSON.stringify(report));
  return status;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    say(error instanceof Error ? error.message : String(error));
    Deno.exit(error instanceof UsageError ? 2 : 1);
  }
}
