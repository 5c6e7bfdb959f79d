/**
 * The dashboards as code: the committed JSON is what the code generates, every panel says what it
 * shows and in which unit, uids are pinned, and every datasource and recording rule a query needs
 * is provisioned or recorded by the files beside it.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import type * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import { buildDashboards, GENERATED_DIR, renderDashboard } from "../src/index.ts";
import { panelQueries, panels, queryKey, variableQueries } from "../src/inventory.ts";
import { ALERT_GROUPS_PANEL_TYPE } from "../src/overview/alerts.ts";
import { GRAFANA_BUILTIN_DATASOURCE } from "../src/defaults.ts";
import { RULE } from "../src/promql.ts";

const REPO = new URL("../../", import.meta.url);
const generated = buildDashboards();

/** The uid of each dashboard file: bookmarks, links and the README depend on them. */
const PINNED_UIDS: Record<string, string> = {
  "cost-overview.json": "ict-cost-overview",
  "tenant-drilldown.json": "ict-tenant-drilldown",
  "stack-health.json": "ict-stack-health",
};

/** Panel types that show no numbers, so a unit would mean nothing. */
const UNITLESS_PANEL_TYPES: Record<string, string> = {
  [ALERT_GROUPS_PANEL_TYPE]: "lists Alertmanager's alert groups as text",
};

interface ProvisionedDatasource {
  name: string;
  uid: string;
  type: string;
  jsonData?: { exemplarTraceIdDestinations?: Array<{ name: string; datasourceUid: string }> };
}

async function provisionedDatasources(): Promise<ProvisionedDatasource[]> {
  const dir = new URL("stack/grafana/provisioning/datasources/", REPO);
  const found: ProvisionedDatasource[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !/\.ya?ml$/.test(entry.name)) continue;
    const file = parse(await Deno.readTextFile(new URL(entry.name, dir))) as {
      datasources?: ProvisionedDatasource[];
    };
    found.push(...(file.datasources ?? []));
  }
  return found;
}

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ record?: string; alert?: string; expr: string }> }>;
}

async function ruleFiles(): Promise<RuleFile[]> {
  const dir = new URL("alerts/", REPO);
  const files: RuleFile[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".rules.yml")) {
      files.push(parse(await Deno.readTextFile(new URL(entry.name, dir))) as RuleFile);
    }
  }
  return files;
}

/** Every `datasource` object anywhere in a dashboard: panels, targets, variables, annotations. */
function datasourceRefs(value: unknown, found: Array<{ type?: string; uid?: string }> = []) {
  if (Array.isArray(value)) {
    for (const item of value) datasourceRefs(item, found);
  } else if (value && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      if (key === "datasource" && child && typeof child === "object") {
        found.push(child as { type?: string; uid?: string });
      } else {
        datasourceRefs(child, found);
      }
    }
  }
  return found;
}

Deno.test("the committed JSON in dashboards/generated is exactly what dashboards/src generates", async () => {
  const committed = new Set<string>();
  for await (const entry of Deno.readDir(GENERATED_DIR)) {
    if (entry.isFile && entry.name.endsWith(".json")) committed.add(entry.name);
  }
  assert.deepEqual(
    [...committed].sort(),
    generated.map((d) => d.file).sort(),
    "dashboards/generated holds other files than the code generates: run `deno task dashboards`",
  );
  for (const { file, json } of generated) {
    const onDisk = await Deno.readTextFile(new URL(file, GENERATED_DIR));
    assert.ok(
      onDisk === renderDashboard(json),
      `dashboards/generated/${file} differs from dashboards/src: run \`deno task dashboards\``,
    );
  }
});

Deno.test("dashboard uids are pinned and unique", () => {
  assert.deepEqual(
    Object.fromEntries(generated.map((d) => [d.file, d.json.uid])),
    PINNED_UIDS,
  );
});

Deno.test("panel ids and titles are unique within each dashboard", () => {
  for (const { json } of generated) {
    const all = json.panels ?? [];
    const ids = all.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, `${json.uid}: repeated panel id in ${ids}`);
    const titles = panels(json).map((p) => p.title);
    assert.equal(new Set(titles).size, titles.length, `${json.uid}: repeated panel title`);
  }
});

Deno.test("every panel has a title, a description and a unit", () => {
  for (const { json } of generated) {
    for (const panel of panels(json)) {
      const where = `${json.uid} / ${panel.title ?? `panel ${panel.id}`}`;
      assert.ok(panel.title, `${where}: no title`);
      assert.ok((panel.description ?? "").length >= 40, `${where}: no real description`);
      if (panel.type in UNITLESS_PANEL_TYPES) continue;
      assert.ok(panel.fieldConfig?.defaults?.unit, `${where}: no unit`);
    }
  }
});

Deno.test("threshold steps rise from a base colour", () => {
  for (const { json } of generated) {
    for (const panel of panels(json)) {
      const steps = panel.fieldConfig?.defaults?.thresholds?.steps ?? [];
      if (steps.length === 0) continue;
      assert.equal(steps[0].value, null, `${json.uid} / ${panel.title}: first step not the base`);
      const values = steps.slice(1).map((s: dashboard.Threshold) => s.value as number);
      assert.deepEqual(values, [...values].sort((a, b) => a - b), `${panel.title}: steps unsorted`);
    }
  }
});

Deno.test("every datasource a dashboard names is provisioned with the same type", async () => {
  const provisioned = await provisionedDatasources();
  const byUid = new Map(provisioned.map((d) => [d.uid, d]));
  for (const { json } of generated) {
    for (const ref of datasourceRefs(json)) {
      if (ref.uid === GRAFANA_BUILTIN_DATASOURCE.uid) continue;
      const found = byUid.get(ref.uid ?? "");
      assert.ok(found, `${json.uid} names datasource uid ${ref.uid}, which is not provisioned`);
      assert.equal(ref.type, found.type, `${json.uid}: datasource ${ref.uid} has another type`);
    }
  }
});

Deno.test("the active-alerts panel names a provisioned Alertmanager datasource", async () => {
  const provisioned = await provisionedDatasources();
  const alertmanagers = provisioned.filter((d) => d.type === "alertmanager").map((d) => d.name);
  const alertPanels = generated.flatMap(({ json }) =>
    panelQueries(json).filter((q) => q.source === "alertmanager")
  );
  assert.ok(alertPanels.length > 0, "no alert-groups panel");
  for (const q of alertPanels) {
    assert.ok(
      alertmanagers.includes(String(q.raw.alertmanager)),
      `${queryKey(q)}: alertmanager "${q.raw.alertmanager}" is not a provisioned datasource name`,
    );
  }
});

Deno.test("exemplar queries can open Jaeger: Prometheus maps trace_id to the Jaeger datasource", async () => {
  const provisioned = await provisionedDatasources();
  const prometheus = provisioned.find((d) => d.type === "prometheus");
  const jaeger = provisioned.find((d) => d.type === "jaeger");
  assert.ok(prometheus && jaeger);
  const exemplarQueries = generated.flatMap(({ json }) =>
    panelQueries(json).filter((q) => q.exemplar)
  );
  assert.ok(exemplarQueries.length >= 2, "the cost and drill-down dashboards ask for exemplars");
  for (const q of exemplarQueries) {
    assert.equal(q.datasourceUid, prometheus.uid, queryKey(q));
    assert.match(q.expr ?? "", /inference_cost_per_request_usd_bucket/, queryKey(q));
  }
  assert.ok(
    prometheus.jsonData?.exemplarTraceIdDestinations?.some((d) =>
      d.name === "trace_id" && d.datasourceUid === jaeger.uid
    ),
    "the Prometheus datasource does not link exemplar trace_id labels to Jaeger",
  );
});

Deno.test("every recording rule a panel reads is recorded in alerts/*.rules.yml", async () => {
  const recorded = new Set(
    (await ruleFiles()).flatMap((f) => f.groups.flatMap((g) => g.rules.map((r) => r.record))),
  );
  const used = new Set(
    generated.flatMap(({ json }) => panelQueries(json))
      .flatMap((q) => (q.expr ?? "").match(/\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b/g) ?? []),
  );
  assert.ok(used.size > 0, "no panel reads a recording rule");
  for (const name of used) assert.ok(recorded.has(name), `${name} is not recorded in alerts/`);
  for (const name of Object.values(RULE)) assert.ok(used.has(name), `RULE ${name} is unused`);
});

/** Recording rules an alert uses only as a gate, not as the quantity it watches. */
const ALERT_ONLY_RULES: Record<string, string> = {
  "model:inference_cost_per_request_usd_count:increase15m":
    "the spike alert's minimum-volume gate (at least 10 requests), not a number users watch",
};

Deno.test("the quantities alerts watch are drawn from the same recording rules", async () => {
  const files = await ruleFiles();
  const recorded = new Set(
    files.flatMap((f) => f.groups.flatMap((g) => g.rules.map((r) => r.record))),
  );
  const alertInputs = new Set(
    files.flatMap((f) => f.groups.flatMap((g) => g.rules.filter((r) => r.alert)))
      .flatMap((r) => r.expr.match(/\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b/g) ?? [])
      .filter((name) => recorded.has(name)),
  );
  const drawn = generated.flatMap(({ json }) => panelQueries(json)).map((q) => q.expr ?? "");
  for (const name of alertInputs) {
    if (name in ALERT_ONLY_RULES) continue;
    assert.ok(drawn.some((expr) => expr.includes(name)), `an alert reads ${name}, no panel does`);
  }
});

Deno.test("the drill-down's variables query Prometheus with label_values", () => {
  const variables = generated.flatMap(({ json }) => variableQueries(json));
  assert.deepEqual(variables.map((v) => v.name), ["tenant", "model"]);
  for (const v of variables) {
    assert.equal(v.datasourceUid, "prometheus");
    assert.match(v.query, /^label_values\(.+, (tenant|model)\)$/);
  }
});

Deno.test("dashboard links in Alertmanager's notification templates open existing dashboards", async () => {
  const dir = new URL("stack/alertmanager/templates/", REPO);
  const links: Array<{ uid: string; variables: string[] }> = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".tmpl")) continue;
    const text = await Deno.readTextFile(new URL(entry.name, dir));
    // `{{ define "name" }}/d/<uid>{{ end }}`, then `{{ template "name" }}?var-<variable>=...`.
    const uidOf = new Map(
      [...text.matchAll(/define "([^"]+)" \}\}\/d\/([\w-]+)/g)].map((m) => [m[1], m[2]]),
    );
    for (const m of text.matchAll(/template "([^"]+)" \}\}((?:[?&]var-\w+=)?)/g)) {
      const uid = uidOf.get(m[1]);
      if (uid) links.push({ uid, variables: [...m[2].matchAll(/var-(\w+)/g)].map((v) => v[1]) });
    }
  }
  assert.ok(links.length > 0, "no dashboard link found in the notification templates");
  const byUid = new Map(generated.map(({ json }) => [json.uid, json]));
  for (const link of links) {
    const json = byUid.get(link.uid);
    assert.ok(json, `a notification links /d/${link.uid}, which no dashboard has`);
    const names = variableQueries(json).map((v) => v.name);
    for (const v of link.variables) assert.ok(names.includes(v), `/d/${link.uid} has no $${v}`);
  }
});
