/** Grafana provisioning: datasources, the dashboard provider, and the dashboards it would load. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseMount } from "../../scripts/stack/compose.ts";
import { composeServices, readRepoYaml, REPO_ROOT, repoPathExists } from "./helpers.ts";

interface Datasource {
  name: string;
  uid: string;
  type: string;
  url: string;
  jsonData?: { exemplarTraceIdDestinations?: Array<{ name: string; datasourceUid: string }> };
}

const datasources = (await readRepoYaml<{ datasources: Datasource[] }>(
  "stack/grafana/provisioning/datasources/datasources.yaml",
)).datasources;
const provider = (await readRepoYaml<{
  providers: Array<{ type: string; options: { path: string } }>;
}>("stack/grafana/provisioning/dashboards/dashboards.yaml")).providers;
const grafana = (await composeServices()).grafana;

Deno.test("each provisioned datasource uid is unique: prometheus, jaeger, alertmanager", () => {
  const uids = datasources.map((d) => d.uid);
  assert.equal(new Set(uids).size, uids.length, `repeated uid in ${uids}`);
  assert.deepEqual(
    datasources.map((d) => [d.uid, d.type, d.url]),
    [
      ["prometheus", "prometheus", "http://prometheus:9090"],
      ["jaeger", "jaeger", "http://jaeger:16686"],
      ["alertmanager", "alertmanager", "http://alertmanager:9093"],
    ],
  );
});

Deno.test("Prometheus exemplars link their trace_id label to the Jaeger datasource", () => {
  const prometheus = datasources.find((d) => d.uid === "prometheus");
  assert.deepEqual(prometheus?.jsonData?.exemplarTraceIdDestinations, [
    { name: "trace_id", datasourceUid: "jaeger" },
  ]);
});

Deno.test("the dashboard provider loads the folder compose mounts from dashboards/generated", () => {
  assert.equal(provider.length, 1);
  assert.equal(provider[0].type, "file");
  const mounts = (grafana.volumes ?? []).map(parseMount);
  const dashboards = mounts.find((m) => m.target === provider[0].options.path);
  assert.ok(dashboards, `no volume mounts ${provider[0].options.path}`);
  assert.equal(dashboards.source, "./dashboards/generated");
  assert.equal(dashboards.readOnly, true);
  assert.ok(
    mounts.some((m) =>
      m.source === "./stack/grafana/provisioning" && m.target === "/etc/grafana/provisioning"
    ),
  );
});

Deno.test("grafana opens to anonymous viewers by default, admin password from the environment or admin", () => {
  const env = grafana.environment ?? {};
  assert.equal(env.GF_SECURITY_ADMIN_PASSWORD, "${GRAFANA_ADMIN_PASSWORD:-admin}");
  assert.equal(env.GF_AUTH_ANONYMOUS_ENABLED, "${GRAFANA_ANONYMOUS_ENABLED:-true}");
  assert.equal(env.GF_AUTH_ANONYMOUS_ORG_ROLE, "Viewer");
  assert.equal(env.GF_USERS_ALLOW_SIGN_UP, "false");
});

/** Every datasource uid a dashboard JSON names, wherever it sits (panels, targets, variables). */
function datasourceUids(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) datasourceUids(item, found);
  } else if (value && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      if (key === "datasource" && child && typeof child === "object" && "uid" in child) {
        found.add(String(child.uid));
      } else if (key === "datasourceUid" && typeof child === "string") {
        found.add(child);
      }
      datasourceUids(child, found);
    }
  }
  return found;
}

async function dashboardFiles(): Promise<string[]> {
  if (!await repoPathExists("dashboards/generated")) return [];
  const files: string[] = [];
  for await (const entry of Deno.readDir(join(REPO_ROOT, "dashboards/generated"))) {
    if (entry.isFile && entry.name.endsWith(".json")) files.push(entry.name);
  }
  return files.sort();
}

const dashboards = await dashboardFiles();

Deno.test({
  name: "every dashboard in dashboards/generated parses and uses only provisioned datasource uids",
  fn: async () => {
    assert.ok(dashboards.length >= 3, `only ${dashboards.length} dashboards generated`);
    const provisioned = new Set(datasources.map((d) => d.uid));
    for (const file of dashboards) {
      const dashboard = JSON.parse(
        await Deno.readTextFile(join(REPO_ROOT, "dashboards/generated", file)),
      );
      assert.equal(typeof dashboard.uid, "string", `${file} has no uid`);
      // Grafana's template placeholders (${datasource}, -- Mixed --) are not uids.
      const uids = datasourceUids(dashboard);
      assert.ok(uids.size > 0, `${file} names no datasource at all`);
      const unknown = [...uids]
        .filter((uid) => !uid.startsWith("$") && !uid.startsWith("-- ") && !provisioned.has(uid));
      assert.deepEqual(unknown, [], `${file} names datasources that are not provisioned`);
    }
  },
});
