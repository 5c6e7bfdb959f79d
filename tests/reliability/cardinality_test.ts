/**
 * Cardinality: client-chosen strings never become series, so a flood of distinct tenants and
 * models leaves the exposition and the heap flat, and even the worst case (every label of every
 * metric at every value its closed set allows) stays under the scrape's `sample_limit` in the
 * shipped Prometheus config, past which Prometheus would drop the whole scrape.
 */
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import client from "prom-client";
import { testApp } from "../helpers/app.ts";
import { parseExposition } from "../helpers/prom.ts";
import { withJsonFile } from "../helpers/files.ts";
import { renderMetrics } from "../../src/telemetry/exposition.ts";
import { REQUEST_STATUSES, UPSTREAM_ERROR_KINDS } from "../../src/telemetry/names.ts";
import { BUDGET_WINDOWS, OTHER_TENANT } from "../../src/tenants/tenants.ts";

const ROOT = new URL("../../", import.meta.url);

interface FloodFigures {
  requests: number;
  elapsedMs: number;
  gcForced: boolean;
  statuses: Record<string, number>;
  afterWarmup: { heapUsed: number; rss: number; series: { samples: number } };
  afterFlood: {
    heapUsed: number;
    rss: number;
    series: { samples: number; families: Record<string, number> };
  };
}

Deno.test("100,000 requests with distinct tenant and model strings leave the series count and the heap flat", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--expose-gc",
      "--allow-all",
      "tests/reliability/flood_worker.ts",
      "100000",
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const f: FloodFigures = JSON.parse(new TextDecoder().decode(out.stdout));
  const mb = (n: number) => (n / 1e6).toFixed(1);
  console.log(
    `flood: ${f.requests} requests in ${f.elapsedMs} ms; series ${f.afterWarmup.series.samples}` +
      ` → ${f.afterFlood.series.samples}; heap ${mb(f.afterWarmup.heapUsed)} → ` +
      `${mb(f.afterFlood.heapUsed)} MB; rss ${mb(f.afterWarmup.rss)} → ${mb(f.afterFlood.rss)} MB`,
  );
  assert.ok(f.gcForced);
  assert.equal(f.statuses["200"] + f.statuses["400"], f.requests);
  assert.ok(f.statuses["400"] > 5000, "the flood includes refused requests");
  // Bounded: the 90,000 requests after the warm-up added no series at all.
  assert.equal(f.afterFlood.series.samples, f.afterWarmup.series.samples);
  assert.ok(f.afterFlood.series.samples < 1000, `${f.afterFlood.series.samples} samples`);
  // Flat: with garbage collected, what grows is bounded and saturates (compiled code and its
  // feedback, caches of bounded size): measured +2.1 MB after 50,000 requests, +3.9 MB after
  // 100,000 and still +3.9 MB after 200,000. Keeping any per-request object (a request, a
  // response, a span: a kilobyte or more each) would add 90 MB or more over these requests.
  const growth = f.afterFlood.heapUsed - f.afterWarmup.heapUsed;
  assert.ok(growth < 8e6, `heap grew ${mb(growth)} MB over the flood`);
  assert.ok(f.elapsedMs < 60_000, `the flood took ${f.elapsedMs} ms`);
});

/** The sample_limit the shipped Prometheus config sets for the app's scrape job. */
async function shippedSampleLimit(): Promise<number> {
  const config = parseYaml(
    await Deno.readTextFile(new URL("stack/prometheus/prometheus.yml", ROOT)),
  ) as { scrape_configs: { job_name: string; sample_limit?: number }[] };
  const job = config.scrape_configs.find((j) => j.job_name === "inference-cost-tracker");
  assert.ok(job, "the app's scrape job is in stack/prometheus/prometheus.yml");
  assert.ok(typeof job.sample_limit === "number" && job.sample_limit > 0, "it sets sample_limit");
  return job.sample_limit;
}

/** Observes 1 in a histogram, in the call form its exemplar setting requires. */
function observe(metric: client.Histogram<string>, labels: Record<string, string>): void {
  if ((metric as unknown as { enableExemplars?: boolean }).enableExemplars) {
    metric.observe({ labels, value: 1, exemplarLabels: { trace_id: "0".repeat(32) } });
  } else {
    metric.observe(labels, 1);
  }
}

/**
 * The sample count of the exposition when every label of every metric takes every value its
 * closed set allows: the most series the configuration `env` can ever produce.
 */
async function worstCaseSamples(env: Record<string, string>, accept: string): Promise<number> {
  const t = testApp({ LOG_LEVEL: "silent", ...env });
  const { config } = t.services;
  // Every value each label can take: the closed sets the server maps client input onto.
  const domains: Record<string, readonly string[]> = {
    model: [...config.prices.models.keys(), "unknown"],
    tenant: [...config.tenants.tenants.map((x) => x.id), OTHER_TENANT],
    status: REQUEST_STATUSES,
    kind: UPSTREAM_ERROR_KINDS,
    provider: ["simulated", ...config.providers.providers.map((p) => p.name)],
    window: BUDGET_WINDOWS,
    version: [config.prices.version],
  };
  const metrics = await t.services.metrics.registry.getMetricsAsJSON();
  for (const family of metrics) {
    const metric = t.services.metrics.registry.getSingleMetric(family.name) as
      & client.Metric<string>
      & { labelNames?: readonly string[] };
    const labelNames = metric.labelNames ?? [];
    for (const name of labelNames) {
      assert.ok(domains[name], `${family.name} has label "${name}" with no closed set of values`);
    }
    let combos: Record<string, string>[] = [{}];
    for (const name of labelNames) {
      combos = combos.flatMap((c) => domains[name].map((v) => ({ ...c, [name]: v })));
    }
    for (const labels of combos) {
      if (metric instanceof client.Counter) metric.inc(labels, 1);
      else if (metric instanceof client.Histogram) observe(metric, labels);
      else if (metric instanceof client.Gauge) metric.set(labels, 1);
    }
  }
  const [body] = await renderMetrics(t.services.metrics.registry, accept);
  return parseExposition(body).samples.length;
}

Deno.test("the worst-case exposition of the default configuration stays under the shipped sample_limit", async () => {
  const limit = await shippedSampleLimit();
  for (const accept of ["text/plain", "application/openmetrics-text"]) {
    const samples = await worstCaseSamples({}, accept);
    console.log(`worst-case exposition (${accept}): ${samples} samples; sample_limit ${limit}`);
    assert.ok(samples < limit, `${samples} samples ≥ sample_limit ${limit}`);
  }
});

Deno.test("each configured tenant adds a bounded number of series: how many tenants the sample_limit fits", async () => {
  const limit = await shippedSampleLimit();
  const tenants = (n: number) => ({
    tenants: [
      { id: "default", hourly_alert_threshold_usd: 25 },
      ...Array.from({ length: n }, (_, i) => ({
        id: `tenant-${i}`,
        hourly_alert_threshold_usd: 10,
        budgets: { hour: 1, day: 10, month: 100 },
      })),
    ],
  });
  const base = await withJsonFile(
    tenants(0),
    (path) => worstCaseSamples({ TENANTS_FILE: path }, "text/plain"),
  );
  const with50 = await withJsonFile(
    tenants(50),
    (path) => worstCaseSamples({ TENANTS_FILE: path }, "text/plain"),
  );
  const perTenant = (with50 - base) / 50;
  assert.equal(Number.isInteger(perTenant), true, "every tenant adds the same number");
  const fits = Math.floor((limit - base) / perTenant);
  console.log(
    `each tenant with hour, day and month budgets adds ${perTenant} samples at worst; ` +
      `sample_limit ${limit} fits ${fits} such tenants with the shipped price table`,
  );
  assert.ok(fits >= 100, `only ${fits} tenants fit under sample_limit ${limit}`);
});
