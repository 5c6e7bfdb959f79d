/**
 * `docker compose config` on the compose files, with the Compose CLI built by
 * scripts/install-stack.sh: the engine is not needed to load, interpolate and validate them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { stackBinaries } from "../../scripts/stack/binaries.ts";
import { REPO_ROOT, repoPathExists, versionPins } from "./helpers.ts";

const compose = (await stackBinaries(REPO_ROOT))["docker-compose"];
const pins = await versionPins();

interface ResolvedService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  ports?: Array<{ host_ip: string; published: string; target: number }>;
  volumes?: Array<{ type: string; source: string; target: string; read_only?: boolean }>;
  build?: { args?: Record<string, string> };
}

/**
 * Runs `docker compose config` from the root with only the given environment: an empty env file
 * stands in for a developer's .env, so the result does not depend on this machine.
 */
async function composeConfig(env: Record<string, string>, profiles: string[]) {
  const emptyEnvFile = await Deno.makeTempFile({ suffix: ".env" });
  try {
    const result = await new Deno.Command(compose, {
      args: [
        "--env-file",
        emptyEnvFile,
        ...profiles.flatMap((profile) => ["--profile", profile]),
        "config",
        "--format",
        "json",
      ],
      cwd: REPO_ROOT,
      clearEnv: true,
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: Deno.env.get("HOME") ?? "/",
        ...env,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return {
      code: result.code,
      stdout: decoder.decode(result.stdout),
      stderr: decoder.decode(result.stderr),
    };
  } finally {
    await Deno.remove(emptyEnvFile);
  }
}

async function resolvedServices(
  env: Record<string, string>,
  profiles = ["spike"],
): Promise<Record<string, ResolvedService>> {
  const { code, stdout, stderr } = await composeConfig(env, profiles);
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout).services;
}

Deno.test("docker compose config accepts the stack and resolves every image to its pin", async () => {
  const services = await resolvedServices({});
  assert.deepEqual(Object.keys(services).sort(), [
    "alert-receiver",
    "alertmanager",
    "alertmanager-config",
    "app",
    "grafana",
    "jaeger",
    "otel-collector",
    "prometheus",
    "spike",
  ]);
  assert.equal(
    services["otel-collector"].image,
    `otel/opentelemetry-collector-contrib:${pins.OTELCOL_VERSION}`,
  );
  assert.equal(services.prometheus.image, `prom/prometheus:v${pins.PROMETHEUS_VERSION}`);
  assert.equal(services.alertmanager.image, `prom/alertmanager:v${pins.ALERTMANAGER_VERSION}`);
  assert.equal(services.jaeger.image, `jaegertracing/jaeger:${pins.JAEGER_VERSION}`);
  assert.equal(services.grafana.image, `grafana/grafana:${pins.GRAFANA_VERSION}`);
  assert.equal(services.app.build?.args?.DENO_VERSION, pins.DENO_VERSION);
});

Deno.test("docker compose config resolves bind mounts from the repository root and publishes on 127.0.0.1", async () => {
  const services = await resolvedServices({}, ["spike", "replicas"]);
  for (const [name, service] of Object.entries(services)) {
    for (const volume of service.volumes ?? []) {
      if (volume.type !== "bind") continue;
      assert.ok(volume.source.startsWith(`${REPO_ROOT}/`), `${name}: ${volume.source}`);
      const relative = volume.source.slice(REPO_ROOT.length + 1);
      if (relative === "dashboards/generated" && !await repoPathExists(relative)) continue;
      assert.ok(await repoPathExists(relative), `${name}: ${relative} does not exist`);
      assert.equal(volume.read_only, true, `${name}: ${relative} is writable`);
    }
    for (const port of service.ports ?? []) {
      assert.equal(port.host_ip, "127.0.0.1", `${name}: ${port.published}`);
    }
  }
  assert.equal(
    services.prometheus.volumes?.find((v) => v.target === "/etc/prometheus/rules")?.source,
    join(REPO_ROOT, "alerts"),
  );
});

Deno.test("with no .env and no variables set, compose accepts the stack: Grafana admin/admin, anonymous viewers, loopback", async () => {
  const services = await resolvedServices({});
  const grafana = services.grafana.environment ?? {};
  assert.equal(grafana.GF_SECURITY_ADMIN_USER, "admin");
  assert.equal(grafana.GF_SECURITY_ADMIN_PASSWORD, "admin");
  assert.equal(grafana.GF_AUTH_ANONYMOUS_ENABLED, "true");
  assert.equal(grafana.GF_AUTH_ANONYMOUS_ORG_ROLE, "Viewer");
  for (const [name, service] of Object.entries(services)) {
    for (const port of service.ports ?? []) assert.equal(port.host_ip, "127.0.0.1", name);
  }
  // Alert links open on this machine; the receivers are rendered before Alertmanager starts.
  assert.ok(
    services.prometheus.command?.includes("--web.external-url=http://127.0.0.1:9090"),
    String(services.prometheus.command),
  );
  assert.ok(services.alertmanager.command?.includes("--web.external-url=http://127.0.0.1:9093"));
  assert.equal(
    services.alertmanager.depends_on?.["alertmanager-config"]?.condition,
    "service_completed_successfully",
  );
});

Deno.test("a Grafana password set in the environment replaces the default", async () => {
  const services = await resolvedServices({ GRAFANA_ADMIN_PASSWORD: "s3cret-for-this-test" });
  assert.equal(services.grafana.environment?.GF_SECURITY_ADMIN_PASSWORD, "s3cret-for-this-test");
});

Deno.test("a version or bind address set in the environment wins over the committed defaults", async () => {
  const services = await resolvedServices({
    PROMETHEUS_VERSION: "3.15.0",
    BIND_ADDRESS: "0.0.0.0",
  });
  assert.equal(services.prometheus.image, "prom/prometheus:v3.15.0");
  const hosts = new Set(
    Object.values(services).flatMap((s) => (s.ports ?? []).map((p) => p.host_ip)),
  );
  assert.deepEqual([...hosts], ["0.0.0.0"]);
});

Deno.test("with --profile replicas, compose adds three replicas on Redis and PostgreSQL, each with its own data volume, behind the pinned balancer", async () => {
  const services = await resolvedServices({}, ["replicas"]);
  const replicas = ["app-1", "app-2", "app-3"];
  for (const name of [...replicas, "load-balancer", "redis", "postgres"]) {
    assert.ok(services[name], `${name} is missing`);
  }
  assert.equal(services.spike, undefined, "the spike profile was not asked for");
  assert.equal(services["load-balancer"].image, `nginx:${pins.NGINX_VERSION}`);
  assert.equal(services.redis.image, `redis:${pins.REDIS_VERSION}`);
  assert.equal(services.postgres.image, `postgres:${pins.POSTGRES_VERSION}`);
  const dataVolumes = new Set<string>();
  for (const name of replicas) {
    const replica = services[name];
    assert.equal(replica.build?.args?.DENO_VERSION, pins.DENO_VERSION, name);
    // The merge keys resolved: the app's environment, then the shared stores.
    assert.deepEqual(replica.environment, {
      ...services.app.environment,
      BUDGET_STORE: "redis",
      REDIS_URL: "redis://redis:6379",
      LEDGER_URL: "postgres://ledger@postgres:5432/ledger",
      LEDGER_OUTBOX: "/app/data/ledger-outbox.sqlite",
    });
    assert.deepEqual(replica.command, services.app.command, name);
    const [volume, ...more] = replica.volumes ?? [];
    assert.deepEqual(more, [], name);
    assert.equal(volume.type, "volume", name);
    assert.equal(volume.target, "/app/data", name);
    dataVolumes.add(volume.source);
    assert.deepEqual(replica.ports ?? [], [], `${name} is reached through the balancer only`);
  }
  assert.equal(dataVolumes.size, 3, [...dataVolumes].join());
  assert.deepEqual(
    services["load-balancer"].ports?.map((p) => [p.host_ip, p.published, p.target]),
    [["127.0.0.1", "8080", 8000]],
  );
  assert.deepEqual(
    services.app.volumes?.map((v) => [v.type, v.source, v.target]),
    [["volume", "app-data", "/app/data"]],
  );
});
