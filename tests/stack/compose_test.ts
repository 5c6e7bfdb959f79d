/**
 * The compose files, checked without a Docker engine: mounts, pins, ports, knobs, secrets,
 * healthchecks. The Compose schema itself is checked by the real CLI (compose_cli_test.ts).
 */
import assert from "node:assert/strict";
import { join, posix } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { interpolate, parseEnvFile, parseMount } from "../../scripts/stack/compose.ts";
import {
  composeServices,
  readRepoFile,
  readRepoYaml,
  repoPathExists,
  versionPins,
} from "./helpers.ts";

const services = await composeServices();
const pins = await versionPins();
const envExample = parseEnvFile(await readRepoFile(".env.example"));
const composeTexts = [await readRepoFile("compose.yaml"), await readRepoFile("stack/compose.yaml")];

Deno.test("the root compose.yaml includes stack/compose.yaml from the root with the version pins", async () => {
  const root = await readRepoYaml<{ include: Array<Record<string, string>> }>("compose.yaml");
  assert.deepEqual(root.include, [{
    path: "stack/compose.yaml",
    project_directory: ".",
    env_file: "stack/versions.env",
  }]);
});

const bindMounts = Object.entries(services).flatMap(([name, service]) =>
  (service.volumes ?? []).map((spec) => ({ name, mount: parseMount(spec) }))
    .filter(({ mount }) => mount.kind === "bind")
);

for (const { name, mount } of bindMounts) {
  const source = join(mount.source);
  Deno.test(
    `${name}'s mount ${mount.source} exists in the repository`,
    async () => assert.equal(await repoPathExists(source), true, `${source} is missing`),
  );
}

Deno.test("every bind mount of config, rules or dashboards is read-only", () => {
  assert.ok(bindMounts.length >= 6, `only ${bindMounts.length} bind mounts found`);
  const writable = bindMounts.filter(({ mount }) => !mount.readOnly)
    .map(({ name, mount }) => `${name}: ${mount.source}`);
  assert.deepEqual(writable, []);
});

/**
 * An exact version of each pin: MAJOR.MINOR.PATCH, but MAJOR.MINOR for PostgreSQL, whose releases
 * have two numbers (17.7 is one release; 17 would float).
 */
const exactVersion = (variable: string) =>
  variable === "POSTGRES_VERSION" ? /^\d+\.\d+$/ : /^v?\d+\.\d+\.\d+$/;

Deno.test("every image is pinned to an exact version from stack/versions.env", () => {
  const lookup = (variable: string) => pins[variable];
  const images = Object.entries(services).filter(([, service]) => service.image);
  assert.ok(images.length >= 5);
  for (const [name, service] of images) {
    const variable = /\$\{([A-Z_]+_VERSION)/.exec(service.image!)?.[1];
    assert.ok(variable, `${name}: image ${service.image} does not take its tag from a pin`);
    assert.ok(pins[variable], `${name}: ${variable} is not pinned in stack/versions.env`);
    const tag = interpolate(service.image!, lookup).split(":").at(-1)!;
    assert.match(tag, exactVersion(variable), `${name}: tag ${tag} is not an exact version`);
  }
});

Deno.test("every pin in stack/versions.env is an exact version", () => {
  assert.deepEqual(Object.keys(pins).sort(), [
    "ALERTMANAGER_VERSION",
    "DENO_VERSION",
    "DOCKER_COMPOSE_VERSION",
    "GRAFANA_VERSION",
    "JAEGER_VERSION",
    "NGINX_VERSION",
    "OTELCOL_VERSION",
    "POSTGRES_VERSION",
    "PROMETHEUS_VERSION",
    "REDIS_VERSION",
  ]);
  for (const [name, version] of Object.entries(pins)) {
    assert.match(version, exactVersion(name), `${name}=${version}`);
    assert.doesNotMatch(version, /^v/, `${name}=${version}: the image adds its own prefix`);
  }
});

Deno.test("the app image is built FROM the pinned Deno image and runs as a non-root user", async () => {
  const dockerfile = await readRepoFile("stack/app/Dockerfile");
  assert.match(dockerfile, /^FROM denoland\/deno:\$\{DENO_VERSION\}$/m);
  assert.match(dockerfile, /^USER deno$/m);
  for (const name of ["app", "alert-receiver", "spike", "alertmanager-config"]) {
    assert.equal(services[name].build?.dockerfile, "stack/app/Dockerfile", name);
    assert.match(services[name].build?.args?.DENO_VERSION ?? "", /^\$\{DENO_VERSION:\?/, name);
  }
  const ignored = (await readRepoFile("stack/app/Dockerfile.dockerignore")).split("\n");
  assert.ok(ignored.includes(".env"), "the build context must not carry .env");
  // stack/ is left out but for the folder holding the receivers' renderer.
  assert.ok(ignored.includes("stack/*") && ignored.includes("!stack/alertmanager"));
});

const dockerfile = await readRepoFile("stack/app/Dockerfile");
// Continuation lines joined, as the shell reads them.
const entrypoints = /^RUN deno install .*--entrypoint ([^\n]+)/m
  .exec(dockerfile.replaceAll("\\\n", " "))?.[1].trim()
  .split(/\s+/) ?? [];
for (const entrypoint of entrypoints) {
  Deno.test(
    `the app image's cached entrypoint ${entrypoint} exists`,
    async () => assert.equal(await repoPathExists(entrypoint), true),
  );
}

Deno.test("the app image caches the entrypoints its services run, from the committed lock file", () => {
  assert.deepEqual(entrypoints, [
    "src/main.ts",
    "scripts/alert-receiver.ts",
    "scripts/spike.ts",
    "stack/alertmanager/render-receivers.ts",
  ]);
  // Every Deno service's script is one of them, so none downloads at start.
  for (const [name, service] of Object.entries(services)) {
    if (!service.build) continue;
    const script = (service.command ?? []).find((arg) => arg.endsWith(".ts"));
    if (script) assert.ok(entrypoints.includes(script), `${name} runs ${script}, not cached`);
  }
  assert.match(dockerfile, /^COPY --chown=deno:deno \. \.$/m);
  // The lock file must match: the build fails instead of resolving other versions.
  assert.match(dockerfile, /^RUN deno install --frozen --entrypoint /m);
});

Deno.test("the Deno pin in stack/versions.env is the one scripts/deno installs", async () => {
  const launcher = await readRepoFile("scripts/deno");
  assert.equal(/^DENO_VERSION=(\S+)$/m.exec(launcher)?.[1], pins.DENO_VERSION);
});

Deno.test("no service runs Deno with all permissions, and the app reads only its own folder", () => {
  for (const [name, service] of Object.entries(services)) {
    const command = service.command ?? [];
    assert.ok(!command.includes("-A") && !command.includes("--allow-all"), name);
  }
  assert.ok(services.app.command?.includes("--allow-read=/app,/app/data"));
  assert.ok(services["alert-receiver"].command?.includes("--allow-net=0.0.0.0:9095"));
});

const published = Object.entries(services).flatMap(([name, service]) =>
  (service.ports ?? []).map((spec) => ({ name, spec }))
);

Deno.test("every published port is bound to ${BIND_ADDRESS:-127.0.0.1} and its host port is unique", () => {
  assert.ok(published.length >= 8);
  const hostPorts = published.map(({ name, spec }) => {
    const match = /^\$\{BIND_ADDRESS:-127\.0\.0\.1\}:\$\{([A-Z_]+):-(\d+)\}:(\d+)$/.exec(spec);
    assert.ok(match, `${name}: ${spec} is not \${BIND_ADDRESS:-127.0.0.1}:\${PORT_VAR:-N}:N`);
    return { name, variable: match[1], port: Number(match[2]) };
  });
  const variables = hostPorts.map((p) => p.variable);
  assert.equal(new Set(variables).size, variables.length, `variables repeat: ${variables}`);
  const ports = hostPorts.map((p) => p.port);
  assert.equal(new Set(ports).size, ports.length, `default host ports repeat: ${ports}`);
});

Deno.test("every variable the compose files use is a version pin or a knob in .env.example", () => {
  const used = new Set(
    composeTexts.flatMap((text) =>
      [...text.replaceAll("$$", "").matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1])
    ),
  );
  const missing = [...used].filter((variable) => !(variable in pins) && !(variable in envExample));
  assert.deepEqual(missing, []);
  assert.equal(envExample.BIND_ADDRESS, "127.0.0.1");
});

Deno.test("no committed file gives a secret a value but Grafana's documented first-login default", () => {
  assert.equal(envExample.GRAFANA_ADMIN_PASSWORD, "");
  // admin/admin, which Grafana asks to change at the first login (docs/stack.md, Grafana login).
  const password = services.grafana.environment?.GF_SECURITY_ADMIN_PASSWORD ?? "";
  assert.equal(password, "${GRAFANA_ADMIN_PASSWORD:-admin}");
  for (const [name, service] of Object.entries(services)) {
    for (const [key, value] of Object.entries(service.environment ?? {})) {
      if (/PASSWORD|SECRET|TOKEN|API_KEY/.test(key)) {
        assert.match(String(value), /^\$\{/, `${name}.${key} has a literal value`);
      }
    }
  }
});

Deno.test("every long-running service but the collector has a healthcheck, and dependencies wait for it", () => {
  const oneShots = ["alertmanager-config"];
  // The collector image is FROM scratch: nothing in it can run a healthcheck.
  const withoutHealthcheck = Object.entries(services)
    .filter(([name, service]) =>
      !service.healthcheck && !service.profiles && !oneShots.includes(name)
    )
    .map(([name]) => name);
  assert.deepEqual(withoutHealthcheck, ["otel-collector"]);
  for (const [name, service] of Object.entries(services)) {
    for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
      const expected = dependency === "otel-collector"
        ? "service_started"
        : oneShots.includes(dependency)
        ? "service_completed_successfully"
        : "service_healthy";
      assert.equal(condition, expected, `${name} → ${dependency}`);
    }
  }
  // A one-shot is not restarted once done.
  for (const name of oneShots) assert.equal(services[name].restart, undefined, name);
});

Deno.test("Alertmanager reads the config its one-shot renders with the ALERT_* receivers", () => {
  const render = services["alertmanager-config"];
  assert.deepEqual(render.volumes, [
    "./stack/alertmanager:/etc/alertmanager:ro",
    "alertmanager-config:/etc/alertmanager-rendered",
  ]);
  assert.ok(render.command?.includes("--out=/etc/alertmanager-rendered"));
  assert.ok(render.command?.includes("--allow-env=ALERT_*"));
  // The official image runs Alertmanager as nobody (65534): the secrets files become its own.
  assert.ok(render.command?.includes("--owner=65534:65534"));
  assert.equal(render.user, "root");
  const alertmanager = services.alertmanager;
  assert.equal(
    alertmanager.command?.[0],
    "--config.file=/etc/alertmanager-rendered/alertmanager.yml",
  );
  assert.ok(alertmanager.volumes?.includes("alertmanager-config:/etc/alertmanager-rendered:ro"));
});

Deno.test("the app talks OTLP to the collector as service inference-cost-tracker", () => {
  const env = services.app.environment ?? {};
  assert.equal(env.HOST, "0.0.0.0");
  assert.equal(env.PORT, "8000");
  assert.equal(env.OTEL_DENO, "true");
  assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, "http://otel-collector:4318");
  assert.equal(env.OTEL_SERVICE_NAME, "inference-cost-tracker");
});

Deno.test("prometheus runs with exemplar storage, the lifecycle API and the OTLP receiver", () => {
  const command = services.prometheus.command ?? [];
  for (
    const flag of [
      "--enable-feature=exemplar-storage",
      "--web.enable-lifecycle",
      "--web.enable-otlp-receiver",
    ]
  ) {
    assert.ok(command.includes(flag), flag);
  }
  assert.ok(services.prometheus.volumes?.includes("./alerts:/etc/prometheus/rules:ro"));
});

Deno.test("the spike simulation runs only under the spike profile", () => {
  assert.deepEqual(services.spike.profiles, ["spike"]);
  assert.deepEqual(services.spike.command, ["task", "spike", "--verify"]);
  assert.equal(
    services.spike.environment?.SPIKE_ALLOW_HOSTS,
    "app,prometheus,alertmanager,alert-receiver",
  );
  const profiled = Object.entries(services).filter(([, s]) => s.profiles).map(([name]) => name);
  assert.deepEqual(profiled.filter((name) => services[name].profiles?.includes("spike")), [
    "spike",
  ]);
});

const REPLICAS = ["app-1", "app-2", "app-3"];

Deno.test("the replicas profile holds three app replicas, their balancer, Redis and PostgreSQL, and only them", () => {
  const profiled = Object.entries(services).filter(([, s]) => s.profiles).map(([name]) => name);
  assert.deepEqual(
    profiled.filter((name) => services[name].profiles?.includes("replicas")).sort(),
    [...REPLICAS, "load-balancer", "postgres", "redis"],
  );
  for (const name of profiled) assert.equal(services[name].profiles?.length, 1, name);
});

Deno.test("each replica runs the app's command on the shared Redis budgets and PostgreSQL ledger, with its own outbox volume", () => {
  const volumes = new Set<string>();
  for (const name of REPLICAS) {
    const replica = services[name];
    assert.deepEqual(replica.command, services.app.command, name);
    assert.deepEqual(replica.healthcheck, services.app.healthcheck, name);
    const env = replica.environment ?? {};
    // The app's own settings (OTLP endpoint, service name) and the shared stores on top.
    for (const [key, value] of Object.entries(services.app.environment ?? {})) {
      if (key !== "LEDGER_URL") assert.equal(env[key], value, `${name}.${key}`);
    }
    assert.equal(env.BUDGET_STORE, "redis", name);
    assert.equal(env.REDIS_URL, "redis://redis:6379", name);
    assert.match(env.LEDGER_URL, /^postgres:\/\/[^@/]+@postgres:5432\/\w+$/, name);
    assert.equal(env.LEDGER_OUTBOX, "/app/data/ledger-outbox.sqlite", name);
    const mounts = (replica.volumes ?? []).map(parseMount);
    assert.equal(mounts.length, 1, name);
    assert.deepEqual({ ...mounts[0], source: "" }, {
      kind: "volume",
      source: "",
      target: "/app/data",
      readOnly: false,
    });
    volumes.add(mounts[0].source);
    assert.deepEqual(replica.depends_on, {
      "otel-collector": { condition: "service_started" },
      postgres: { condition: "service_healthy" },
      redis: { condition: "service_healthy" },
    });
    assert.equal(replica.ports, undefined, `${name} is reached through the balancer only`);
  }
  assert.equal(volumes.size, REPLICAS.length, `replicas share an outbox volume: ${[...volumes]}`);
  assert.ok(!volumes.has("app-data"));
});

Deno.test("Prometheus's app job finds every replica by DNS under the alias they, and only they, carry", async () => {
  const prometheus = await readRepoYaml<{
    scrape_configs: {
      job_name: string;
      dns_sd_configs?: { names: string[]; type: string; port: number }[];
    }[];
  }>("stack/prometheus/prometheus.yml");
  const job = prometheus.scrape_configs.find((j) => j.job_name === "inference-cost-tracker");
  assert.equal(job?.dns_sd_configs?.length, 1);
  const [sd] = job!.dns_sd_configs!;
  assert.equal(sd.type, "A");
  assert.equal(sd.port, 8000, "the port the app listens on inside its container");
  assert.equal(sd.names.length, 1);
  for (const [name, service] of Object.entries(services)) {
    const aliases = service.networks?.default?.aliases ?? [];
    assert.equal(aliases.includes(sd.names[0]), REPLICAS.includes(name), name);
  }
});

Deno.test("the balancer spreads the API over exactly the three replicas, from the site file it mounts", async () => {
  const balancer = services["load-balancer"];
  assert.match(balancer.image ?? "", /^nginx:\$\{NGINX_VERSION:\?/);
  assert.deepEqual(balancer.volumes, [
    "./stack/nginx/replicas.conf:/etc/nginx/conf.d/default.conf:ro",
  ]);
  assert.deepEqual(balancer.ports, ["${BIND_ADDRESS:-127.0.0.1}:${APP_REPLICAS_PORT:-8080}:8000"]);
  const site = await readRepoFile("stack/nginx/replicas.conf");
  const servers = [...site.matchAll(/^\s*server\s+([\w.-]+):(\d+)\b/gm)]
    .map(([, host, port]) => `${host}:${port}`);
  assert.deepEqual(servers, REPLICAS.map((name) => `${name}:8000`));
  assert.match(site, /^\s*listen 8000;$/m);
  // Streams and the live page's events pass through as they are written.
  assert.match(site, /^\s*proxy_buffering off;$/m);
  for (const name of REPLICAS) {
    assert.equal(balancer.depends_on?.[name]?.condition, "service_healthy", name);
  }
});

Deno.test("Redis and PostgreSQL keep their data in volumes and are not published", () => {
  for (const [name, target] of [["redis", "/data"], ["postgres", "/var/lib/postgresql/data"]]) {
    const mounts = (services[name].volumes ?? []).map(parseMount);
    assert.deepEqual(mounts.map((m) => [m.kind, m.target]), [["volume", target]], name);
    assert.equal(services[name].ports, undefined, `${name} is published`);
  }
  assert.ok(services.redis.command?.includes("--appendonly"));
  // The database and user the replicas' LEDGER_URL names.
  const ledgerUrl = new URL(services["app-1"].environment?.LEDGER_URL ?? "");
  assert.equal(services.postgres.environment?.POSTGRES_USER, ledgerUrl.username);
  assert.equal(services.postgres.environment?.POSTGRES_DB, ledgerUrl.pathname.slice(1));
});

Deno.test("the app writes its default ledger into a volume at /app/data, a folder the image makes for its non-root user", async () => {
  // Compose names the file by its absolute path (the native stack rewrites it to its volume)...
  const composed = interpolate(services.app.environment?.LEDGER_URL ?? "", () => undefined);
  // ...and the image alone (`docker run`) takes the server's default, relative to its WORKDIR.
  const builtIn = loadConfig({}).ledger;
  for (const ledger of [loadConfig({ LEDGER_URL: composed }).ledger, builtIn]) {
    assert.equal(ledger.kind, "sqlite");
    const path = posix.resolve(
      services.app.working_dir ?? "",
      ledger.kind === "sqlite" ? ledger.path : "",
    );
    assert.ok(path.startsWith("/app/data/"), path);
  }
  assert.ok(services.app.volumes?.includes("app-data:/app/data"));
  assert.ok(services.app.command?.includes("--allow-write=/app/data"));
  assert.equal(envExample.LEDGER_URL, composed, ".env.example shows the default");
  const lines = dockerfile.split("\n");
  const user = lines.indexOf("USER deno");
  const mkdir = lines.indexOf("RUN mkdir -p /app/data");
  assert.ok(user > 0 && mkdir > user, "the image must create /app/data as its user, deno");
  assert.ok(lines.includes("WORKDIR /app"));
  assert.match(lines.find((l) => l.startsWith("CMD "))!, /"--allow-write=\/app\/data"/);
  // A developer's local ledger never goes into the image.
  assert.ok((await readRepoFile("stack/app/Dockerfile.dockerignore")).split("\n").includes("data"));
});
