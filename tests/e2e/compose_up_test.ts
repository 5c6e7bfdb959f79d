/**
 * The compose path end to end: `docker compose up --build --wait` of compose.yaml with the pinned
 * Compose CLI (scripts/install-stack.sh builds it), then the same checks as the native-stack test
 * (tests/e2e/fixtures/stack_checks.ts) through the published ports, plus Grafana's health and
 * datasources. Needs a local Docker engine: without one the test is registered as ignored, so the
 * summary counts it as skipped, never as passed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { stringify } from "yaml";
import { REPO_ROOT, stackBinaries } from "../../scripts/stack.ts";
import {
  assertAlertDelivered,
  assertCostTotals,
  assertExemplarsLinkToTraces,
  assertRulesHealthy,
  assertTracesInJaeger,
  poll,
  rulesDirWithFixture,
  SCRAPE_JOBS,
  sendPricedRequests,
  type StackEndpoints,
  waitAppScrapedAfter,
  waitTargetsUp,
} from "./fixtures/stack_checks.ts";

/** Images pulled and the app image built on a cold machine take most of this. */
const UP_BOUND_MS = 15 * 60_000;
/** Once up: two scrape intervals, group_wait, the slowest rule group's first evaluation. */
const CHECKS_BOUND_MS = 120_000;

type EngineProbe = { reachable: true; endpoint: string } | { reachable: false; reason: string };

/** Sends GET /_ping to the engine's API and reads the status line. */
async function ping(options: Deno.ConnectOptions | Deno.UnixConnectOptions): Promise<boolean> {
  const connection = options.transport === "unix"
    ? await Deno.connect(options)
    : await Deno.connect(options);
  const timer = setTimeout(() => connection.close(), 2000);
  try {
    await connection.write(
      new TextEncoder().encode("GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n"),
    );
    const buffer = new Uint8Array(64);
    const read = await connection.read(buffer);
    return /^HTTP\/1\.[01] 200/.test(new TextDecoder().decode(buffer.subarray(0, read ?? 0)));
  } finally {
    clearTimeout(timer);
    try {
      connection.close();
    } catch {
      // Closed by the timer.
    }
  }
}

/**
 * Whether a local Docker engine answers: DOCKER_HOST when it is a unix socket or a plain TCP
 * address on this machine, else the usual socket paths (system, rootless, Docker Desktop).
 */
async function probeDockerEngine(): Promise<EngineProbe> {
  const dockerHost = Deno.env.get("DOCKER_HOST");
  const candidates: Array<[string, Deno.ConnectOptions | Deno.UnixConnectOptions]> = [];
  if (dockerHost?.startsWith("unix://")) {
    const path = dockerHost.slice("unix://".length);
    candidates.push([dockerHost, { transport: "unix", path }]);
  } else if (dockerHost?.startsWith("tcp://")) {
    const url = new URL(dockerHost.replace(/^tcp:/, "http:"));
    if (Deno.env.get("DOCKER_TLS_VERIFY")) {
      return {
        reachable: false,
        reason: `DOCKER_HOST ${dockerHost} wants TLS: not supported here`,
      };
    }
    candidates.push([dockerHost, { hostname: url.hostname, port: Number(url.port || 2375) }]);
  } else if (dockerHost) {
    return { reachable: false, reason: `DOCKER_HOST ${dockerHost} is neither unix:// nor tcp://` };
  } else {
    const home = Deno.env.get("HOME");
    const runtimeDir = Deno.env.get("XDG_RUNTIME_DIR");
    for (
      const path of [
        "/var/run/docker.sock",
        ...(runtimeDir ? [`${runtimeDir}/docker.sock`] : []),
        ...(home ? [`${home}/.docker/run/docker.sock`] : []),
      ]
    ) {
      candidates.push([`unix://${path}`, { transport: "unix", path }]);
    }
  }
  const failures: string[] = [];
  for (const [endpoint, options] of candidates) {
    try {
      if (await ping(options)) return { reachable: true, endpoint };
      failures.push(`${endpoint}: /_ping did not answer 200`);
    } catch (error) {
      failures.push(`${endpoint}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { reachable: false, reason: failures.join("; ") };
}

/** Distinct free ports on 127.0.0.1, one per name. */
function freePorts<K extends string>(names: readonly K[]): Record<K, number> {
  const listeners = names.map(() => Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  try {
    return Object.fromEntries(
      names.map((name, i) => [name, (listeners[i].addr as Deno.NetAddr).port]),
    ) as Record<K, number>;
  } finally {
    for (const listener of listeners) listener.close();
  }
}

function randomPassword(): string {
  return [...crypto.getRandomValues(new Uint8Array(18))]
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Rejects after ms, naming what took too long; the timer is cleared when `promise` settles. */
async function within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took over ${ms / 1000} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const engine = await probeDockerEngine();
if (!engine.reachable) {
  console.log(`compose test ignored: no Docker engine answers (${engine.reason})`);
}

/** The published-port knobs of .env.example, each given a free port. */
const PORT_KNOBS = [
  "APP_PORT",
  "GRAFANA_PORT",
  "JAEGER_UI_PORT",
  "PROMETHEUS_PORT",
  "ALERTMANAGER_PORT",
  "ALERT_RECEIVER_PORT",
  "OTLP_GRPC_PORT",
  "OTLP_HTTP_PORT",
] as const;

/** The long-running services; alertmanager-config is a one-shot that must have exited 0. */
const SERVICES = [
  "app",
  "otel-collector",
  "jaeger",
  "prometheus",
  "alertmanager",
  "alert-receiver",
  "grafana",
];

/** Runs the pinned Compose CLI on compose.yaml (plus the override) as project `project`. */
async function compose(
  binary: string,
  project: string,
  files: string[],
  env: Record<string, string>,
  args: string[],
): Promise<{ code: number; output: string }> {
  const result = await new Deno.Command(binary, {
    args: ["--project-name", project, ...files.flatMap((f) => ["--file", f]), ...args],
    cwd: REPO_ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

Deno.test({
  name:
    "with a Docker engine, `docker compose up` of compose.yaml prices requests into Prometheus, Jaeger and exemplars, delivers a fired alert, and serves Grafana",
  ignore: !engine.reachable,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    // The Compose CLI pinned in stack/versions.env, built by scripts/install-stack.sh: the same
    // one tests/stack/ validates the files with, whether or not the engine has a compose plugin.
    const binaries = await stackBinaries(REPO_ROOT);
    const rules = await rulesDirWithFixture();
    const workDir = await Deno.makeTempDir({ prefix: "ict-compose-e2e-" });
    // Prometheus loads the shipped rules plus the fixture rule, as the native test does.
    const overridePath = join(workDir, "compose.e2e.yaml");
    await Deno.writeTextFile(
      overridePath,
      stringify({
        services: { prometheus: { volumes: [`${rules.dir}:/etc/prometheus/rules:ro`] } },
      }),
    );
    const ports = freePorts(PORT_KNOBS);
    const grafanaPassword = randomPassword();
    const project = `ict-e2e-${randomPassword().slice(0, 8)}`;
    const env = {
      BIND_ADDRESS: "127.0.0.1",
      GRAFANA_ADMIN_USER: "admin",
      GRAFANA_ADMIN_PASSWORD: grafanaPassword,
      PROMETHEUS_EXTERNAL_URL: `http://127.0.0.1:${ports.PROMETHEUS_PORT}`,
      ALERTMANAGER_EXTERNAL_URL: `http://127.0.0.1:${ports.ALERTMANAGER_PORT}`,
      ...Object.fromEntries(Object.entries(ports).map(([knob, port]) => [knob, String(port)])),
    };
    const run = (args: string[]) =>
      compose(binaries["docker-compose"], project, ["compose.yaml", overridePath], env, args);

    try {
      // --wait: every service healthy (or running, for the collector, which has no healthcheck)
      // and the one-shot done.
      const up = await within(
        "docker compose up",
        UP_BOUND_MS,
        run(["up", "--detach", "--build", "--wait", "--wait-timeout", String(UP_BOUND_MS / 1000)]),
      );
      if (up.code !== 0) {
        const logs = await run(["logs", "--no-color", "--tail", "40"]);
        assert.fail(`docker compose up exited ${up.code}:\n${up.output}\n${logs.output}`);
      }
      const listed = await run(["ps", "--all", "--format", "json"]);
      assert.equal(listed.code, 0, listed.output);
      const containers = listed.output.trim().split("\n").filter(Boolean)
        .map((line) => JSON.parse(line) as { Service: string; State: string; ExitCode: number });
      for (const service of SERVICES) {
        const container = containers.find((c) => c.Service === service);
        assert.equal(container?.State, "running", `${service}: ${JSON.stringify(container)}`);
      }
      const oneShot = containers.find((c) => c.Service === "alertmanager-config");
      assert.equal(oneShot?.State, "exited", JSON.stringify(oneShot));
      assert.equal(oneShot?.ExitCode, 0, JSON.stringify(oneShot));
      const url = (port: number) => `http://127.0.0.1:${port}`;
      const endpoints: StackEndpoints = {
        app: url(ports.APP_PORT),
        prometheus: url(ports.PROMETHEUS_PORT),
        alertmanager: url(ports.ALERTMANAGER_PORT),
        alertReceiver: url(ports.ALERT_RECEIVER_PORT),
        jaeger: url(ports.JAEGER_UI_PORT),
      };
      const upAt = Date.now();
      const checksBound = upAt + CHECKS_BOUND_MS;
      const requests = await sendPricedRequests(endpoints.app);
      const lastAnswerAt = Date.now();

      await t.step(
        "each request's trace is found in Jaeger by service with its body's cost_usd",
        async () => {
          await assertTracesInJaeger(endpoints.jaeger, requests, upAt, lastAnswerAt + 30_000);
        },
      );

      await t.step("every scrape target is up", async () => {
        const up = await waitTargetsUp(endpoints.prometheus, SCRAPE_JOBS, Date.now() + 40_000);
        for (const job of SCRAPE_JOBS) assert.equal(up[job], 1, job);
      });

      await t.step(
        "inference_cost_usd_total per model and tenant equals the sum of the bodies' cost_usd",
        async () => {
          await waitAppScrapedAfter(endpoints.prometheus, lastAnswerAt, lastAnswerAt + 40_000);
          await assertCostTotals(endpoints.prometheus, requests, Date.now() + 5_000);
        },
      );

      await t.step(
        "exemplars on inference_cost_per_request_usd carry trace ids Jaeger has",
        async () => {
          const checked = await assertExemplarsLinkToTraces(
            endpoints,
            requests,
            upAt,
            Date.now() + 20_000,
          );
          assert.ok(checked > 0);
        },
      );

      await t.step(
        "an alert Prometheus fires reaches Alertmanager and the webhook receiver",
        async () => {
          await assertAlertDelivered(endpoints, lastAnswerAt + 60_000);
        },
      );

      await t.step(
        "the shipped alert rules load and evaluate without error on live data",
        async () => {
          await assertRulesHealthy(endpoints.prometheus, rules.files, upAt + 75_000);
        },
      );

      await t.step(
        "Grafana is healthy with Prometheus, Jaeger and Alertmanager datasources",
        async () => {
          const grafana = url(ports.GRAFANA_PORT);
          const health = await poll("Grafana's health", Date.now() + 60_000, async () => {
            const response = await fetch(`${grafana}/api/health`);
            const body = await response.json() as { database?: string };
            if (!response.ok) throw new Error(`answered ${response.status}`);
            return body;
          });
          assert.equal(health.database, "ok");
          const response = await fetch(`${grafana}/api/datasources`, {
            headers: { authorization: `Basic ${btoa(`admin:${grafanaPassword}`)}` },
          });
          assert.equal(response.status, 200);
          const types = (await response.json() as Array<{ type: string }>).map((d) => d.type);
          for (const type of ["alertmanager", "jaeger", "prometheus"]) {
            assert.ok(types.includes(type), `no ${type} datasource among ${types}`);
          }
        },
      );

      assert.ok(Date.now() < checksBound, "the checks took longer than their bound");
    } finally {
      const down = await run(["down", "--volumes", "--timeout", "10"]);
      if (down.code !== 0) console.error(`docker compose down: ${down.output}`);
      await Deno.remove(rules.dir, { recursive: true });
      await Deno.remove(workDir, { recursive: true });
    }
  },
});
