/**
 * Each component's own validator run on the committed config files (and on their native renders),
 * plus the settings the stack depends on, read from the parsed files.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "yaml";
import { stackBinaries } from "../../scripts/stack/binaries.ts";
import { planStack } from "../../scripts/stack/launcher.ts";
import { DEFAULT_NATIVE_PORTS } from "../../scripts/stack/ports.ts";
import { readRepoFile, readRepoYaml, REPO_ROOT, run, versionPins } from "./helpers.ts";
import { testReplicasSite } from "../helpers/nginx.ts";

// Fails loudly, naming what is missing, when scripts/install-stack.sh has not built them.
const binaries = await stackBinaries(REPO_ROOT);
const pins = await versionPins();

async function renderedNative(
  service: "prometheus" | "alertmanager" | "otel-collector" | "jaeger",
) {
  const dataDir = await Deno.makeTempDir({ prefix: "ict-render-" });
  const [plan] = await planStack({
    binaries,
    ports: DEFAULT_NATIVE_PORTS,
    dataDir,
    services: [service],
  });
  return { plan, dataDir };
}

Deno.test("promtool check config accepts stack/prometheus/prometheus.yml", async () => {
  const { code, output } = await run(binaries.promtool, [
    "check",
    "config",
    "stack/prometheus/prometheus.yml",
  ]);
  assert.equal(code, 0, output);
});

Deno.test("promtool check config accepts the native render, with the rule files it loads from alerts/", async () => {
  const { plan, dataDir } = await renderedNative("prometheus");
  try {
    const config = plan.renderedFiles.find((file) => file.endsWith("prometheus.yml"))!;
    const rendered = parse(await Deno.readTextFile(config));
    assert.deepEqual(rendered.rule_files, [join(REPO_ROOT, "alerts/*.rules.yml")]);
    const { code, output } = await run(binaries.promtool, ["check", "config", config]);
    assert.equal(code, 0, output);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("amtool check-config accepts stack/alertmanager/alertmanager.yml", async () => {
  const { code, output } = await run(binaries.amtool, [
    "check-config",
    "stack/alertmanager/alertmanager.yml",
  ]);
  assert.equal(code, 0, output);
});

Deno.test("otelcol validate accepts stack/otel-collector/config.yaml and its native render", async () => {
  const committed = await run(binaries.otelcol, [
    "validate",
    "--config=stack/otel-collector/config.yaml",
  ]);
  assert.equal(committed.code, 0, committed.output);
  const { plan, dataDir } = await renderedNative("otel-collector");
  try {
    const rendered = await run(binaries.otelcol, ["validate", `--config=${plan.renderedFiles[0]}`]);
    assert.equal(rendered.code, 0, rendered.output);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("jaeger validate accepts stack/jaeger/config.yaml and its native render", async () => {
  const committed = await run(binaries.jaeger, ["validate", "--config=stack/jaeger/config.yaml"]);
  assert.equal(committed.code, 0, committed.output);
  const { plan, dataDir } = await renderedNative("jaeger");
  try {
    const rendered = await run(binaries.jaeger, ["validate", `--config=${plan.renderedFiles[0]}`]);
    assert.equal(rendered.code, 0, rendered.output);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a config with an unknown collector component is rejected by otelcol validate", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const text = (await readRepoFile("stack/otel-collector/config.yaml"))
      .replaceAll("otlp_grpc/jaeger", "zipkin/jaeger");
    await Deno.writeTextFile(join(dir, "config.yaml"), text);
    const { code, output } = await run(binaries.otelcol, [
      "validate",
      `--config=${dir}/config.yaml`,
    ]);
    assert.notEqual(code, 0);
    assert.match(output, /unknown type: "zipkin"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

interface CollectorConfig {
  extensions: Record<string, unknown>;
  receivers: Record<string, unknown>;
  processors: Record<string, { limit_mib?: number; limit_percentage?: number }>;
  exporters: Record<string, { endpoint?: string }>;
  service: {
    extensions: string[];
    pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }>;
  };
}

const collector = await readRepoYaml<CollectorConfig>("stack/otel-collector/config.yaml");
const typeOf = (id: string) => id.split("/")[0];

Deno.test("the native collector has exactly the components builder.yaml lists and config.yaml uses", async () => {
  const { code, output } = await run(binaries.otelcol, ["components"]);
  assert.equal(code, 0, output);
  const built = parse(output) as Record<string, Array<{ name: string; module: string }>>;
  const kinds = ["receivers", "processors", "exporters", "extensions"] as const;
  for (const kind of kinds) {
    const used = [...new Set(Object.keys(collector[kind]).map(typeOf))].sort();
    const names = (built[kind] ?? []).map((component) => component.name)
      // The exporters' deprecated aliases (otlp, otlphttp) are listed beside otlp_grpc, otlp_http.
      .filter((name) => kind !== "exporters" || (name !== "otlp" && name !== "otlphttp")).sort();
    assert.deepEqual(names, used, kind);
    for (const component of built[kind] ?? []) {
      assert.ok(component.module.endsWith(` v${pins.OTELCOL_VERSION}`), component.module);
    }
  }
});

Deno.test("the collector sends traces to Jaeger with the otlp_grpc exporter through memory_limiter and batch", () => {
  const traces = collector.service.pipelines.traces;
  assert.deepEqual(traces.receivers, ["otlp"]);
  assert.deepEqual(traces.processors, ["memory_limiter", "batch"]);
  assert.deepEqual(traces.exporters, ["otlp_grpc/jaeger"]);
  assert.equal(collector.exporters["otlp_grpc/jaeger"].endpoint, "jaeger:4317");
  for (const pipeline of Object.values(collector.service.pipelines)) {
    assert.equal(pipeline.processors[0], "memory_limiter", "memory_limiter must come first");
  }
});

Deno.test("the collector's memory_limiter has an absolute limit_mib and no percentage", () => {
  const limiter = collector.processors.memory_limiter;
  assert.equal(typeof limiter.limit_mib, "number");
  assert.ok(limiter.limit_mib! > 0 && limiter.limit_mib! <= 512, `limit_mib ${limiter.limit_mib}`);
  assert.equal(limiter.limit_percentage, undefined);
});

interface PrometheusConfig {
  global: { scrape_interval: string };
  rule_files: string[];
  alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
  scrape_configs: Array<{
    job_name: string;
    scrape_interval?: string;
    sample_limit?: number;
    static_configs: Array<{ targets: string[] }>;
  }>;
}

Deno.test("prometheus scrapes the app as job inference-cost-tracker every 15s with sample_limit 50000", async () => {
  const config = await readRepoYaml<PrometheusConfig>("stack/prometheus/prometheus.yml");
  const job = config.scrape_configs.find((c) => c.job_name === "inference-cost-tracker");
  assert.ok(job);
  assert.equal(job.scrape_interval, "15s");
  assert.equal(job.sample_limit, 50000);
  assert.deepEqual(job.static_configs, [{ targets: ["app:8000"] }]);
  const targets = Object.fromEntries(
    config.scrape_configs.map((c) => [c.job_name, c.static_configs[0].targets[0]]),
  );
  assert.equal(targets["otel-collector"], "otel-collector:8888");
  assert.equal(targets.alertmanager, "alertmanager:9093");
  assert.equal(targets.prometheus, "prometheus:9090");
  assert.deepEqual(config.rule_files, ["/etc/prometheus/rules/*.rules.yml"]);
  assert.deepEqual(config.alerting.alertmanagers[0].static_configs[0].targets, [
    "alertmanager:9093",
  ]);
});

Deno.test("alertmanager routes every alert to the alert receiver's /alerts webhook", async () => {
  const config = await readRepoYaml<{
    route: { receiver: string };
    receivers: Array<{ name: string; webhook_configs?: Array<{ url: string }> }>;
  }>("stack/alertmanager/alertmanager.yml");
  const receiver = config.receivers.find((r) => r.name === config.route.receiver);
  assert.equal(receiver?.webhook_configs?.[0].url, "http://alert-receiver:9095/alerts");
});

Deno.test("jaeger keeps traces in memory and serves the query API on 16686", async () => {
  const config = await readRepoYaml<{
    extensions: {
      jaeger_query: { storage: { traces: string }; http: { endpoint: string } };
      jaeger_storage: { backends: Record<string, Record<string, unknown>> };
    };
    service: { pipelines: { traces: { receivers: string[] } } };
  }>("stack/jaeger/config.yaml");
  const store = config.extensions.jaeger_query.storage.traces;
  assert.deepEqual(Object.keys(config.extensions.jaeger_storage.backends[store]), ["memory"]);
  assert.equal(config.extensions.jaeger_query.http.endpoint, "0.0.0.0:16686");
  assert.deepEqual(config.service.pipelines.traces.receivers, ["otlp"]);
});

Deno.test("nginx -t accepts the replicas profile's balancer site, rendered as the native test runs it", async () => {
  const { code, output } = await testReplicasSite([18001, 18002, 18003], 18080);
  assert.equal(code, 0, output);
  assert.match(output, /test is successful/);
});

Deno.test("every stack config file opens with a header comment of 2 to 5 lines", async () => {
  const files = [
    "compose.yaml",
    "stack/compose.yaml",
    "stack/versions.env",
    "stack/otel-collector/config.yaml",
    "stack/otel-collector/builder.yaml",
    "stack/prometheus/prometheus.yml",
    "stack/alertmanager/alertmanager.yml",
    "stack/jaeger/config.yaml",
    "stack/grafana/provisioning/datasources/datasources.yaml",
    "stack/grafana/provisioning/dashboards/dashboards.yaml",
    "stack/app/Dockerfile",
    "stack/nginx/replicas.conf",
  ];
  for (const file of files) {
    const lines = (await readRepoFile(file)).split("\n");
    const header = lines.slice(0, lines.findIndex((line) => !line.startsWith("#")));
    // versions.env carries the version mapping table after its header, separated by a bare "#".
    const opening = header.slice(0, header.indexOf("#") < 0 ? header.length : header.indexOf("#"));
    assert.ok(
      opening.length >= 2 && opening.length <= 5,
      `${file}: ${opening.length} header lines`,
    );
  }
});
