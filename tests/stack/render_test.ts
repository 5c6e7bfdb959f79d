/** Native rendering: addresses and paths rewritten, nothing else changed. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "yaml";
import {
  healthcheckTarget,
  interpolate,
  loadStackCompose,
  parseMount,
  startLayers,
} from "../../scripts/stack/compose.ts";
import { planStack, prometheusPagePath, REPO_ROOT } from "../../scripts/stack/launcher.ts";
import {
  DEFAULT_NATIVE_PORTS,
  NATIVE_SERVICES,
  type PortMap,
  randomPortMap,
} from "../../scripts/stack/ports.ts";
import {
  type RenderContext,
  renderString,
  renderYaml,
  rewritePaths,
} from "../../scripts/stack/render.ts";
import type { StackBinaries } from "../../scripts/stack/binaries.ts";

const context = (
  service: RenderContext["service"],
  ports: PortMap = DEFAULT_NATIVE_PORTS,
): RenderContext => ({
  service,
  ports,
  paths: [["/etc/prometheus/rules", "/repo/alerts"], ["/prometheus", "/data/tsdb"]],
  source: "test",
});

Deno.test("a service's host:port becomes 127.0.0.1 and that service's native port", () => {
  assert.equal(renderString("jaeger:4317", context("otel-collector")), "127.0.0.1:14317");
  assert.equal(
    renderString("http://prometheus:9090/api/v1/otlp", context("otel-collector")),
    "http://127.0.0.1:9090/api/v1/otlp",
  );
});

Deno.test("a 0.0.0.0 listen address uses the rendering service's own native port", () => {
  assert.equal(renderString("0.0.0.0:4317", context("otel-collector")), "127.0.0.1:4317");
  assert.equal(renderString("0.0.0.0:4317", context("jaeger")), "127.0.0.1:14317");
  assert.equal(
    renderString("--web.listen-address=0.0.0.0:9090", context("prometheus")),
    "--web.listen-address=127.0.0.1:9090",
  );
});

Deno.test("longer host names, bare ports and other text are left alone", () => {
  for (
    const text of [
      "my-app:8000",
      "app.example:8000",
      "jaeger_storage",
      "port 9090",
      "10.0.0.0:4317",
    ]
  ) {
    assert.equal(renderString(text, context("prometheus")), text);
  }
});

Deno.test("an address with no native port fails, naming the service and the port", () => {
  assert.throws(
    () => renderString("prometheus:1234", context("app")),
    /prometheus:1234 has no native port for prometheus/,
  );
  assert.throws(
    () => renderString("0.0.0.0:5555", context("jaeger")),
    /0\.0\.0\.0:5555 has no native port for jaeger/,
  );
});

Deno.test("container paths are rewritten only at path boundaries, longest first", () => {
  const ctx = context("prometheus");
  assert.equal(rewritePaths("/etc/prometheus/rules/*.rules.yml", ctx), "/repo/alerts/*.rules.yml");
  assert.equal(
    rewritePaths("--storage.tsdb.path=/prometheus", ctx),
    "--storage.tsdb.path=/data/tsdb",
  );
  assert.equal(rewritePaths("/prometheus-data", ctx), "/prometheus-data");
  assert.equal(rewritePaths("/etc/prometheus/rulesets", ctx), "/etc/prometheus/rulesets");
});

Deno.test("a host/port pair (the collector's telemetry reader) is rewritten as one address", () => {
  const rendered = parse(renderYaml("reader:\n  host: 0.0.0.0\n  port: 8888\n", context("jaeger")));
  assert.deepEqual(rendered, { reader: { host: "127.0.0.1", port: 18888 } });
});

/** Walks two parsed documents together and lists every leaf that differs. */
function differences(a: unknown, b: unknown, path = ""): Array<[string, unknown, unknown]> {
  if (a && b && typeof a === "object" && typeof b === "object") {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((key) =>
      differences(
        (a as Record<string, unknown>)[key],
        (b as Record<string, unknown>)[key],
        `${path}.${key}`,
      )
    );
  }
  return a === b ? [] : [[path, a, b]];
}

Deno.test("rendered native configs differ from the committed ones only in addresses and paths", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "ict-render-" });
  try {
    const binaries = {} as StackBinaries;
    const plans = await planStack({
      binaries,
      ports: DEFAULT_NATIVE_PORTS,
      dataDir,
      services: ["otel-collector", "jaeger", "prometheus", "alertmanager"],
    });
    let compared = 0;
    for (const plan of plans) {
      for (const file of plan.renderedFiles.filter((f) => /\.ya?ml$/.test(f))) {
        const source = join(REPO_ROOT, file.slice(join(dataDir, "rendered").length + 1));
        const original = parse(await Deno.readTextFile(source));
        const rendered = parse(await Deno.readTextFile(file));
        for (const [path, before, after] of differences(original, rendered)) {
          const allowed = (typeof before === "string" && typeof after === "string" &&
            (after.includes("127.0.0.1:") || after.startsWith(REPO_ROOT))) ||
            (path.endsWith(".host") && after === "127.0.0.1") ||
            (path.endsWith(".port") && typeof after === "number");
          assert.ok(
            allowed,
            `${file} ${path}: ${JSON.stringify(before)} → ${JSON.stringify(after)}`,
          );
        }
        compared++;
      }
    }
    assert.equal(compared, 4);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("native commands are compose's commands with addresses and paths rewritten", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "ict-render-" });
  try {
    const binaries = {
      prometheus: "/bin/prometheus",
      alertmanager: "/bin/alertmanager",
    } as StackBinaries;
    const [prometheus, alertmanager, receiver] = await planStack({
      binaries,
      ports: DEFAULT_NATIVE_PORTS,
      dataDir,
      services: ["prometheus", "alertmanager", "alert-receiver"],
      rulesDir: "/rules",
    });
    assert.deepEqual(prometheus.args, [
      `--config.file=${dataDir}/rendered/stack/prometheus/prometheus.yml`,
      `--storage.tsdb.path=${dataDir}/volumes/prometheus-data`,
      "--web.listen-address=127.0.0.1:9090",
      "--enable-feature=exemplar-storage",
      "--web.enable-lifecycle",
      "--web.enable-otlp-receiver",
      "--storage.tsdb.retention.time=35d",
      "--web.external-url=http://127.0.0.1:9090",
    ]);
    const rendered = parse(await Deno.readTextFile(prometheus.renderedFiles[0]));
    assert.deepEqual(rendered.rule_files, ["/rules/*.rules.yml"]);
    assert.equal(prometheus.readyUrl, "http://127.0.0.1:9090/-/ready");
    assert.deepEqual(alertmanager.args, [
      `--config.file=${dataDir}/volumes/alertmanager-config/alertmanager.yml`,
      `--storage.path=${dataDir}/volumes/alertmanager-data`,
      "--web.listen-address=127.0.0.1:9093",
      "--cluster.listen-address=",
      "--web.external-url=http://127.0.0.1:9093",
    ]);
    assert.deepEqual(receiver.args, [
      "run",
      "--allow-net=127.0.0.1:9095",
      "scripts/alert-receiver.ts",
      "--listen=127.0.0.1:9095",
    ]);
    assert.equal(receiver.binary, Deno.execPath());
    assert.equal(receiver.cwd, REPO_ROOT);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("the native app gets compose's environment with 127.0.0.1 addresses and its port", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "ict-render-" });
  try {
    const ports = randomPortMap();
    const [app] = await planStack({
      binaries: {} as StackBinaries,
      ports,
      dataDir,
      services: ["app"],
      appEnv: { LOG_LEVEL: "debug" },
    });
    assert.deepEqual(app.env, {
      HOST: "127.0.0.1",
      PORT: String(ports.app[8000]),
      OTEL_DENO: "true",
      OTEL_DENO_TRACING: "false",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${ports["otel-collector"][4318]}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
      OTEL_SERVICE_NAME: "inference-cost-tracker",
      // The ledger goes to the stack's own folder for the app's data volume, not the checkout.
      LEDGER_URL: `sqlite:${dataDir}/volumes/app-data/ledger.sqlite`,
      JAEGER_UI_URL: "http://127.0.0.1:16686",
      LOG_LEVEL: "debug",
    });
    assert.ok(app.args.includes(`--allow-read=${REPO_ROOT},${dataDir}/volumes/app-data`));
    assert.ok(app.args.includes(`--allow-write=${dataDir}/volumes/app-data`));
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("random native ports are distinct, and so are the defaults", () => {
  for (const map of [randomPortMap(), DEFAULT_NATIVE_PORTS]) {
    const ports = NATIVE_SERVICES.flatMap((service) => Object.values(map[service]));
    assert.equal(new Set(ports).size, ports.length, `repeated port in ${ports}`);
  }
});

Deno.test("native start order follows compose's depends_on", async () => {
  const compose = await loadStackCompose(REPO_ROOT);
  const layers = startLayers(compose, NATIVE_SERVICES).map((layer) => [...layer].sort());
  assert.deepEqual(layers, [
    ["alert-receiver", "alertmanager-config", "jaeger", "prometheus"],
    ["alertmanager", "otel-collector"],
    ["app"],
  ]);
});

Deno.test("native links open in a browser: --web.external-url is each service's own native address", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "ict-render-" });
  try {
    const ports = randomPortMap();
    const [prometheus, alertmanager] = await planStack({
      binaries: {
        prometheus: "/bin/prometheus",
        alertmanager: "/bin/alertmanager",
      } as StackBinaries,
      ports,
      dataDir,
      services: ["prometheus", "alertmanager"],
    });
    const external = (args: string[]) => args.filter((a) => a.startsWith("--web.external-url="));
    assert.deepEqual(external(prometheus.args), [
      `--web.external-url=http://127.0.0.1:${ports.prometheus[9090]}`,
    ]);
    assert.deepEqual(external(alertmanager.args), [
      `--web.external-url=http://127.0.0.1:${ports.alertmanager[9093]}`,
    ]);
    // Prometheus built from its module serves this page from its working directory for its UI.
    const page = prometheusPagePath(prometheus.cwd);
    assert.ok(prometheus.renderedFiles.includes(page));
    assert.match(await Deno.readTextFile(page), /built from its Go module[\s\S]*\/api\/v1\/query/);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("the receivers one-shot runs compose's render-receivers command on native paths before Alertmanager", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "ict-render-" });
  try {
    const [render] = await planStack({
      binaries: {} as StackBinaries,
      ports: DEFAULT_NATIVE_PORTS,
      dataDir,
      services: ["alertmanager-config"],
    });
    assert.equal(render.oneShot, true);
    assert.equal(render.readyUrl, undefined);
    assert.equal(render.binary, Deno.execPath());
    assert.equal(render.cwd, REPO_ROOT);
    const source = `${dataDir}/rendered/stack/alertmanager`;
    const out = `${dataDir}/volumes/alertmanager-config`;
    assert.deepEqual(render.args, [
      "run",
      `--allow-read=${source}`,
      `--allow-write=${out}`,
      "--allow-env=ALERT_*",
      "--ignore-env=LOG_STREAM,LOG_TOKENS",
      "--allow-sys=uid",
      "stack/alertmanager/render-receivers.ts",
      `--in=${source}/alertmanager.yml`,
      `--out=${out}`,
      "--owner=65534:65534",
    ]);
    // The source it reads is the native rendering: the webhook on the receiver's native port.
    const config = parse(await Deno.readTextFile(`${source}/alertmanager.yml`));
    assert.equal(
      config.receivers[0].webhook_configs[0].url,
      `http://127.0.0.1:${DEFAULT_NATIVE_PORTS["alert-receiver"][9095]}/alerts`,
    );
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("each native service has a health URL: compose's healthcheck, or the collector's extension", async () => {
  const compose = await loadStackCompose(REPO_ROOT);
  assert.deepEqual(healthcheckTarget(compose.services.jaeger), { port: 13133, path: "/status" });
  assert.deepEqual(healthcheckTarget(compose.services.app), { port: 8000, path: "/ready" });
  assert.deepEqual(healthcheckTarget(compose.services["alert-receiver"]), {
    port: 9095,
    path: "/health",
  });
  assert.equal(healthcheckTarget(compose.services["otel-collector"]), undefined);
});

Deno.test("compose interpolation: defaults, required variables and $$", () => {
  const lookup = (name: string) => ({ SET: "x", EMPTY: "" } as Record<string, string>)[name];
  assert.equal(
    interpolate("${SET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d} $SET $$HOME", lookup),
    "x d  d x $HOME",
  );
  assert.throws(() => interpolate("${EMPTY:?set it}", lookup), /EMPTY: set it/);
  assert.equal(interpolate("${EMPTY?set it}", lookup), "");
});

Deno.test("compose volume entries parse into bind mounts and named volumes", () => {
  assert.deepEqual(parseMount("./alerts:/etc/prometheus/rules:ro"), {
    kind: "bind",
    source: "./alerts",
    target: "/etc/prometheus/rules",
    readOnly: true,
  });
  assert.deepEqual(parseMount("prometheus-data:/prometheus"), {
    kind: "volume",
    source: "prometheus-data",
    target: "/prometheus",
    readOnly: false,
  });
});
