/**
 * Every query of the generated dashboards, run for real: the native stack starts on random ports,
 * priced traffic for several tenants and models goes through the app in two waves a scrape
 * apart, and then each Prometheus panel query and variable query is executed through
 * Prometheus's HTTP API exactly as Grafana would send it (variables and $__rate_interval
 * substituted) and must return data. Exemplar queries must carry trace ids that Jaeger has, the
 * Jaeger panel's search must find the tenant's traces, and the alert-groups panel's source,
 * Alertmanager's /api/v2/alerts/groups, must show an alert it holds.
 */
import assert from "node:assert/strict";
import { eventually, fetchJson } from "../helpers/poll.ts";
import { todaysPriceFile } from "../helpers/prices.ts";
import { startStack } from "../../scripts/stack.ts";
import { buildDashboards } from "../../dashboards/src/index.ts";
import {
  interpolate,
  panelQueries,
  type PanelQuery,
  parseLabelValues,
  type QueryContext,
  queryKey,
  variableQueries,
} from "../../dashboards/src/inventory.ts";

/** Queries that return nothing on this stack by design, with the reason. */
const EMPTY_BY_DESIGN: Record<string, string> = {
  "ict-cost-overview / Upstream errors by provider and kind / A":
    "no upstream provider is configured: the simulated backend serves every request, so " +
    "inference_upstream_errors_total has no series",
  "ict-stack-health / Spans exported and dropped / B":
    "no export to Jaeger fails: the collector creates otelcol_exporter_send_failed_spans at the " +
    "first failed export",
};

const TENANTS = ["team-search", "team-chat", "team-internal", "walk-in-customer"];
const MODELS = ["gpt-4o", "gpt-4o-mini", "claude-3.5-sonnet", "llama-3.1-70b"];
/** Served with UNPRICED_POLICY=allow, counted in inference_unpriced_requests_total. */
const UNPRICED_MODEL = "in-house-experimental";
/** The drill-down is checked for this tenant: it has hour, day and month budgets. */
const DRILL_TENANT = "team-search";
const SCRAPE_INTERVAL_SECONDS = 15;
/** The tenants file with budgets, inside the repository: the app may read only its own tree. */
const TENANTS_FILE =
  new URL("../../dashboards/tests/fixtures/tenants_with_budgets.json", import.meta.url)
    .pathname;

type Sample = [number, string];
interface PromResult {
  metric: Record<string, string>;
  value?: Sample;
  values?: Sample[];
}
interface PromResponse<T> {
  status: "success" | "error";
  data: T;
  error?: string;
}

/** One wave of traffic: every tenant × model, one unpriced request each, one invalid body. */
async function sendWave(app: string, wave: number): Promise<void> {
  const post = (body: unknown) =>
    fetch(`${app}/v1/inference`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    }).then(async (response) => ({ status: response.status, body: await response.json() }));
  const priced = TENANTS.flatMap((tenant) =>
    MODELS.map((model) =>
      post({ tenant, model, max_tokens: 40, prompt: `wave ${wave}: what does ${model} cost?` })
    )
  );
  const unpriced = TENANTS.map((tenant) =>
    post({ tenant, model: UNPRICED_MODEL, max_tokens: 20, prompt: `wave ${wave}, unpriced` })
  );
  const invalid = post({ tenant: TENANTS[0], model: MODELS[0], prompt: "" });
  // One streamed chat per tenant, for the time-to-first-token panel.
  const streamed = TENANTS.map((tenant) =>
    fetch(`${app}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-tenant-id": tenant },
      body: JSON.stringify({
        model: MODELS[1],
        stream: true,
        max_tokens: 20,
        messages: [{ role: "user", content: `wave ${wave}, streamed` }],
      }),
      signal: AbortSignal.timeout(30_000),
    }).then(async (response) => {
      assert.equal(response.status, 200);
      assert.match(await response.text(), /data: \[DONE\]/);
    })
  );
  await Promise.all(streamed);
  const results = await Promise.all([...priced, ...unpriced]);
  for (const { status, body } of results) assert.equal(status, 200, JSON.stringify(body));
  assert.ok(results.slice(0, priced.length).every((r) => r.body.cost_usd > 0));
  assert.equal((await invalid).status, 400);
}

Deno.test({
  name: "every dashboard query returns data from the native stack after priced traffic",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const started = Date.now();
    // Stack start (≤ 90 s), two waves a scrape apart, then every rule group once more (≤ 60 s).
    const deadline = started + 300_000;
    await using prices = await todaysPriceFile();
    const stack = await startStack({
      ports: "random",
      withApp: true,
      appEnv: { TENANTS_FILE, UNPRICED_POLICY: "allow", PRICING_FILE: prices.path },
    });
    try {
      const { prometheus, alertmanager, jaeger, app } = stack.urls;
      assert.ok(app);
      // Prometheus answers a bad query with 400 and a JSON error: keep it, to report it.
      const prom = async <T>(path: string, params: Record<string, string>) => {
        const response = await fetch(`${prometheus}${path}?${new URLSearchParams(params)}`, {
          signal: AbortSignal.timeout(10_000),
        });
        return await response.json() as PromResponse<T>;
      };

      /** When Prometheus last scraped the app, in ms. */
      const lastAppScrape = async () => {
        const targets = await prom<{
          activeTargets: Array<{ labels: { job: string }; lastScrape: string; health: string }>;
        }>("/api/v1/targets", { state: "active" });
        const target = targets.data.activeTargets.find((t) =>
          t.labels.job === "inference-cost-tracker"
        );
        return target?.health === "up" ? Date.parse(target.lastScrape) : 0;
      };
      const scrapeAfter = (instant: number) =>
        eventually(`an app scrape after ${new Date(instant).toISOString()}`, deadline, async () => {
          const at = await lastAppScrape();
          return at > instant ? at : undefined;
        });

      // Two waves a scrape apart: the first scrape creates the series, the second sees them grow,
      // so rates, quantiles and recorded rates have real values.
      const trafficStart = Date.now();
      await sendWave(app, 1);
      await scrapeAfter(Date.now());
      await sendWave(app, 2);
      const lastScrape = await scrapeAfter(Date.now());

      // Every rule group evaluated after the recording rules saw that scrape: recorded series
      // built on other recorded series (baselines, budget exhaustion) then hold real values.
      const groups = () =>
        prom<{ groups: Array<{ name: string; lastEvaluation: string }> }>("/api/v1/rules", {})
          .then((r) => r.data.groups);
      const recorded = await eventually("the recording rules evaluating", deadline, async () => {
        const recording = (await groups()).find((g) => g.name === "inference_cost_recording");
        assert.ok(recording, "alerts/recording.rules.yml is not loaded");
        const at = Date.parse(recording.lastEvaluation);
        // lastScrape is when the scrape started; give its samples 2 s to be appended.
        return at > lastScrape + 2000 ? at : undefined;
      });
      const ruleGroups = await eventually("every rule group evaluating", deadline, async () => {
        const all = await groups();
        return all.every((g) => Date.parse(g.lastEvaluation) > recorded) ? all : undefined;
      });
      assert.ok(ruleGroups.length >= 2, "no rule groups loaded from alerts/");

      // Aligned to the step as Grafana aligns range queries (start down, end up), so the last
      // step is not before the newest samples (a series recorded in the last seconds counts).
      const step = SCRAPE_INTERVAL_SECONDS;
      const end = Math.ceil(Date.now() / 1000 / step) * step;
      const start = Math.floor((trafficStart / 1000 - 60) / step) * step;
      const base: Omit<QueryContext, "variables"> = {
        rangeSeconds: Math.ceil(end - start),
        intervalSeconds: SCRAPE_INTERVAL_SECONDS,
        scrapeIntervalSeconds: SCRAPE_INTERVAL_SECONDS,
      };
      const dashboards = buildDashboards().map((d) => d.json);

      // Variable queries, as Grafana runs label_values(): the label values endpoint with match[].
      const variableValues: Record<string, string[]> = {};
      let checked = 0;
      for (const variable of dashboards.flatMap(variableQueries)) {
        const { selector, label } = parseLabelValues(variable.query);
        const match = interpolate(selector, {
          ...base,
          variables: { tenant: DRILL_TENANT },
        });
        const values = await prom<string[]>(`/api/v1/label/${label}/values`, {
          "match[]": match,
          start: String(start),
          end: String(end),
        });
        assert.equal(values.status, "success", `variable ${variable.name}: ${values.error}`);
        assert.ok(values.data.length > 0, `variable ${variable.name} (${match}) has no values`);
        variableValues[variable.name] = values.data;
        checked++;
      }
      assert.deepEqual(
        variableValues.tenant?.sort(),
        ["other", "team-chat", "team-internal", "team-search"],
      );
      // The drill tenant also sent unpriced and refused requests, counted under model "unknown".
      assert.deepEqual(variableValues.model?.sort(), [...MODELS, "unknown"].sort());

      // Panel queries: the drill-down runs with model = All and with a two-model selection.
      const contexts: QueryContext[] = [
        { ...base, variables: { tenant: DRILL_TENANT, model: ".*" } },
        { ...base, variables: { tenant: DRILL_TENANT, model: ["gpt-4o", "claude-3.5-sonnet"] } },
      ];
      const queries = dashboards.flatMap(panelQueries);
      const prometheusQueries = queries.filter((q) => q.source === "prometheus");
      const empty: string[] = [];
      const problems: string[] = [];
      let runs = 0;
      const withExemplars: Array<{ q: PanelQuery; expr: string }> = [];
      for (const q of prometheusQueries) {
        const usesVariables = /\$(tenant|model)\b/.test(q.expr ?? "");
        for (const context of usesVariables ? contexts : contexts.slice(0, 1)) {
          const expr = interpolate(q.expr ?? "", context);
          const response = q.instant
            ? await prom<{ result: PromResult[] }>("/api/v1/query", {
              query: expr,
              time: String(end),
            })
            : await prom<{ result: PromResult[] }>("/api/v1/query_range", {
              query: expr,
              start: String(start),
              end: String(end),
              step: String(SCRAPE_INTERVAL_SECONDS),
            });
          checked++;
          runs++;
          const key = queryKey(q);
          if (response.status !== "success") {
            problems.push(`${key}: ${response.error}\n  ${expr}`);
            continue;
          }
          const samples = response.data.result.flatMap((r) => r.value ? [r.value] : r.values ?? []);
          if (key in EMPTY_BY_DESIGN) {
            if (samples.length > 0) {
              problems.push(`${key} is listed as empty by design but returned data`);
            }
            empty.push(key);
          } else if (samples.length === 0) {
            problems.push(`${key} returned no data\n  ${expr}`);
          } else if (!samples.some(([, value]) => Number.isFinite(Number(value)))) {
            problems.push(`${key} returned only NaN or infinite values\n  ${expr}`);
          } else if (q.exemplar) {
            withExemplars.push({ q, expr });
          }
        }
      }

      assert.deepEqual(problems, [], `${problems.length} panel queries failed`);

      // Exemplars: the cost → trace drill path. Each exemplar query carries trace ids Jaeger has.
      assert.ok(withExemplars.length >= 2, "no exemplar query was checked");
      for (const { q, expr } of withExemplars) {
        const exemplars = await prom<
          Array<{ exemplars: Array<{ labels: Record<string, string>; value: string }> }>
        >("/api/v1/query_exemplars", { query: expr, start: String(start), end: String(end) });
        assert.equal(exemplars.status, "success", `${queryKey(q)}: ${exemplars.error}`);
        const traceIds = exemplars.data.flatMap((s) => s.exemplars.map((e) => e.labels.trace_id));
        assert.ok(traceIds.length > 0, `${queryKey(q)} has no exemplars`);
        for (const id of traceIds) assert.match(id ?? "", /^[0-9a-f]{32}$/);
        await eventually(`trace ${traceIds[0]} in Jaeger`, deadline, async () => {
          const trace = await fetchJson<{ data: Array<{ traceID: string }> }>(
            `${jaeger}/api/traces/${traceIds[0]}`,
          ).catch(() => undefined);
          return trace?.data?.[0]?.traceID === traceIds[0] ? true : undefined;
        });
        checked++;
      }

      // The Jaeger panel: its search (service, operation, tags) finds this tenant's traces.
      for (const q of queries.filter((q) => q.source === "jaeger")) {
        const raw = q.raw as { service: string; operation?: string; tags?: string; limit?: number };
        const tags = Object.fromEntries(
          [...interpolate(raw.tags ?? "", contexts[0]).matchAll(/([\w.]+)="([^"]*)"/g)]
            .map((m) => [m[1], m[2]]),
        );
        const params = new URLSearchParams({
          service: raw.service,
          operation: raw.operation ?? "",
          tags: JSON.stringify(tags),
          limit: String(raw.limit ?? 20),
          start: String(start * 1_000_000),
          end: String(Math.ceil(end) * 1_000_000),
        });
        const traces = await eventually(`${queryKey(q)} finding traces`, deadline, async () => {
          const found = await fetchJson<{
            data: Array<{ spans: Array<{ tags: Array<{ key: string; value: unknown }> }> }>;
          }>(`${jaeger}/api/traces?${params}`);
          return found.data.length > 0 ? found.data : undefined;
        });
        for (const trace of traces) {
          const tenants = trace.spans.flatMap((s) =>
            s.tags.filter((t) => t.key === "inference.tenant").map((t) => t.value)
          );
          assert.deepEqual([...new Set(tenants)], [DRILL_TENANT]);
        }
        checked++;
      }

      // The alert-groups panel reads Alertmanager's groups: an alert Alertmanager holds shows up
      // there, grouped by alert name and tenant as the route groups it. (A real cost alert needs
      // its `for:` of minutes; the alerts' own end-to-end test waits for that.)
      const alertPanels = queries.filter((q) => q.source === "alertmanager");
      assert.equal(alertPanels.length, 1);
      const probe = { alertname: "DashboardsQueriesProbe", tenant: DRILL_TENANT, severity: "info" };
      const posted = await fetch(`${alertmanager}/api/v2/alerts`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify([{
          labels: probe,
          annotations: { summary: "posted by tests/e2e/dashboards_queries_test.ts" },
          startsAt: new Date().toISOString(),
          endsAt: new Date(Date.now() + 300_000).toISOString(),
        }]),
        signal: AbortSignal.timeout(10_000),
      });
      assert.equal(posted.status, 200, await posted.text());
      const group = await eventually(
        "the probe alert in Alertmanager's groups",
        deadline,
        async () => {
          const groups = await fetchJson<
            Array<
              { labels: Record<string, string>; alerts: Array<{ labels: Record<string, string> }> }
            >
          >(`${alertmanager}/api/v2/alerts/groups`);
          return groups.find((g) => g.alerts.some((a) => a.labels.alertname === probe.alertname));
        },
      );
      assert.deepEqual(group.labels, { alertname: probe.alertname, tenant: probe.tenant });
      checked++;

      console.log(
        `dashboards e2e: ${checked} checks in ${Math.round((Date.now() - started) / 1000)} s — ` +
          `${prometheusQueries.length} Prometheus panel queries (${runs} runs: drill-down ones ` +
          `with model = All and with two models), ${Object.keys(variableValues).length} ` +
          `variable queries, ${withExemplars.length} exemplar lookups traced into Jaeger, the ` +
          `Jaeger search, the Alertmanager groups; empty by design: ` +
          `${[...new Set(empty)].join("; ") || "none"}`,
      );
    } finally {
      await stack.stop();
    }
  },
});
