/**
 * The native stack: the services of stack/compose.yaml run as local processes on 127.0.0.1, with
 * the same config files, commands and environment, rendered by ./render.ts (host names and ports,
 * container paths) into a data folder. Grafana and the spike profile are compose-only.
 */
import { basename, dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { type StackBinaries, stackBinaries } from "./binaries.ts";
import {
  type ComposeFile,
  healthcheckTarget,
  interpolate,
  interpolationLookup,
  loadStackCompose,
  parseMount,
  serviceEnvironment,
  startLayers,
} from "./compose.ts";
import {
  assertPortsFree,
  DEFAULT_NATIVE_PORTS,
  NATIVE_SERVICES,
  type NativeService,
  type PortMap,
  randomPortMap,
} from "./ports.ts";
import {
  type Component,
  spawnComponent,
  stopComponents,
  waitDone,
  waitReady,
} from "./processes.ts";
import { type RenderContext, renderString, renderYaml } from "./render.ts";

/** The repository root (this file is scripts/stack/launcher.ts). */
export const REPO_ROOT = normalize(fileURLToPath(new URL("../../", import.meta.url))).replace(
  /\/$/,
  "",
);

export interface StackOptions {
  /** "default" (the compose port numbers, see ports.ts), "random" free ports, or a full map. */
  ports?: "default" | "random" | PortMap;
  /** Also run the app (src/main.ts) as compose's `app` service does. */
  withApp?: boolean;
  /** Extra environment for the app (tenants, prices, budgets...). */
  appEnv?: Record<string, string>;
  /** Folder whose *.rules.yml Prometheus loads instead of alerts/. */
  rulesDir?: string;
  /** Where rendered configs, logs, TSDB and the pid file go; default a fresh temp folder. */
  dataDir?: string;
  /** Build missing binaries with scripts/install-stack.sh first (default: fail naming them). */
  install?: boolean;
  /** Deadline for the whole stack to be ready (default 90 s). */
  readyTimeoutMs?: number;
  /** How long TERM may take before the watchdog KILLs (default 10 s). */
  stopGraceMs?: number;
  /** Progress lines (default: silent). */
  log?: (line: string) => void;
}

/** Where each part of the running stack answers. */
export interface StackUrls {
  prometheus: string;
  alertmanager: string;
  alertReceiver: string;
  /** Jaeger's query API (/api/traces, /api/services); the UI only in compose. */
  jaeger: string;
  /** The collector's OTLP/HTTP base; POST JSON or protobuf to /v1/traces. */
  otlpHttp: string;
  /** The collector's OTLP/gRPC host:port. */
  otlpGrpc: string;
  collectorHealth: string;
  collectorMetrics: string;
  app?: string;
}

export interface RunningStack {
  urls: StackUrls;
  ports: PortMap;
  dataDir: string;
  components: ReadonlyArray<Pick<Component, "name" | "pid" | "logPath">>;
  /** Resolves with the first component that exits while the stack runs. */
  firstExit: Promise<Component>;
  /** TERM, then KILL after the grace period; removes a temp data folder. Safe to call twice. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** One service, ready to spawn. */
export interface NativeServicePlan {
  name: NativeService;
  binary: string;
  args: string[];
  /** Only the variables compose sets (rendered), not the inherited environment. */
  env: Record<string, string>;
  cwd: string;
  /**
   * A one-shot (another service waits for it with `service_completed_successfully`): it must exit
   * 0 before its dependents start, and has no URL to poll.
   */
  oneShot: boolean;
  readyUrl?: string;
  /** Config files rendered for this service (absolute paths). */
  renderedFiles: string[];
}

/** What the pid file (DATA_DIR/stack.json) records, for `down`. */
export interface StackState {
  launcherPid: number;
  startedAt: string;
  components: Array<{ name: string; pid: number; binary: string }>;
  urls?: StackUrls;
}

export const STATE_FILE = "stack.json";

function binaryFor(service: NativeService, binaries: StackBinaries): string {
  switch (service) {
    case "otel-collector":
      return binaries.otelcol;
    case "jaeger":
      return binaries.jaeger;
    case "prometheus":
      return binaries.prometheus;
    case "alertmanager":
      return binaries.alertmanager;
    default:
      return Deno.execPath();
  }
}

/** The collector image cannot run a healthcheck (no shell), so its probe is named here. */
const COLLECTOR_HEALTH = { port: 13133, path: "/" };

/** Services whose links must open in a browser: their --web.external-url is the native URL. */
const EXTERNAL_URL_PORTS: Partial<Record<NativeService, number>> = {
  prometheus: 9090,
  alertmanager: 9093,
};

/**
 * Prometheus built from its Go module has no UI assets and serves `static/mantine-ui/index.html`
 * for every UI path (a raw error when missing): this page says so and lists the API.
 */
const PROMETHEUS_PAGE = join(REPO_ROOT, "scripts/stack/module-ui/prometheus.html");

/**
 * Where that Prometheus looks for the page: under its working directory, or under web/ui/ when
 * the directory is named `prometheus` (it takes that for its own repository).
 */
export function prometheusPagePath(cwd: string): string {
  const prefix = basename(cwd) === "prometheus" ? "web/ui/static" : "static";
  return join(cwd, prefix, "mantine-ui/index.html");
}

/** Names of the services some other service waits for with `service_completed_successfully`. */
export function oneShotServices(compose: ComposeFile): Set<string> {
  const names = new Set<string>();
  for (const service of Object.values(compose.services)) {
    for (const [name, { condition }] of Object.entries(service.depends_on)) {
      if (condition === "service_completed_successfully") names.add(name);
    }
  }
  return names;
}

async function renderInto(
  source: string,
  target: string,
  context: RenderContext,
): Promise<string[]> {
  const info = await Deno.stat(source);
  if (info.isDirectory) {
    await Deno.mkdir(target, { recursive: true });
    const written: string[] = [];
    for await (const entry of Deno.readDir(source)) {
      written.push(
        ...await renderInto(join(source, entry.name), join(target, entry.name), context),
      );
    }
    return written;
  }
  await Deno.mkdir(dirname(target), { recursive: true });
  if (/\.ya?ml$/.test(source)) {
    const text = await Deno.readTextFile(source);
    await Deno.writeTextFile(target, renderYaml(text, { ...context, source }));
  } else {
    await Deno.copyFile(source, target);
  }
  return [target];
}

/**
 * Renders every native service's config files into dataDir and returns how to run each, without
 * starting anything.
 */
export async function planStack(options: {
  binaries: StackBinaries;
  ports: PortMap;
  dataDir: string;
  services: readonly NativeService[];
  rulesDir?: string;
  appEnv?: Record<string, string>;
  compose?: ComposeFile;
}): Promise<NativeServicePlan[]> {
  const compose = options.compose ?? await loadStackCompose(REPO_ROOT);
  const lookup = await interpolationLookup(REPO_ROOT);
  const oneShots = oneShotServices(compose);
  const plans: NativeServicePlan[] = [];
  for (const name of options.services) {
    const service = compose.services[name];
    if (!service) throw new Error(`stack/compose.yaml has no service ${name}`);
    const paths: Array<[string, string]> = [];
    const toRender: Array<[string, string]> = [];
    for (const spec of service.volumes) {
      const mount = parseMount(interpolate(spec, lookup));
      let nativePath: string;
      if (mount.kind === "volume") {
        nativePath = join(options.dataDir, "volumes", mount.source);
        await Deno.mkdir(nativePath, { recursive: true });
      } else {
        const relative = normalize(mount.source);
        if (relative === "alerts" && options.rulesDir) {
          nativePath = options.rulesDir;
        } else if (relative.startsWith("stack/")) {
          nativePath = join(options.dataDir, "rendered", relative);
          toRender.push([join(REPO_ROOT, relative), nativePath]);
        } else {
          nativePath = join(REPO_ROOT, relative);
        }
      }
      paths.push([mount.target, nativePath]);
    }
    if (service.working_dir) paths.push([service.working_dir, REPO_ROOT]);
    const context: RenderContext = { service: name, ports: options.ports, paths, source: name };

    const renderedFiles: string[] = [];
    for (const [source, target] of toRender) {
      renderedFiles.push(...await renderInto(source, target, context));
    }
    let args = (service.command ?? []).map((arg) =>
      renderString(interpolate(arg, lookup), context)
    );
    const externalPort = EXTERNAL_URL_PORTS[name];
    if (externalPort !== undefined) {
      args = [
        ...args.filter((arg) => !arg.startsWith("--web.external-url=")),
        `--web.external-url=http://127.0.0.1:${options.ports[name][externalPort]}`,
      ];
    }
    const env = Object.fromEntries(
      Object.entries(serviceEnvironment(service, lookup))
        .map((
          [key, value],
        ) => [key, renderString(value, { ...context, source: `${name} ${key}` })]),
    );
    if (name === "app") {
      // HOST and PORT are a bare address and port, which renderString leaves alone.
      Object.assign(
        env,
        { HOST: "127.0.0.1", PORT: String(options.ports.app[8000]) },
        options.appEnv,
      );
    }
    const oneShot = oneShots.has(name);
    const health = healthcheckTarget(service) ??
      (name === "otel-collector" ? COLLECTOR_HEALTH : undefined);
    if (!health && !oneShot) {
      throw new Error(`stack/compose.yaml: ${name} has no healthcheck URL to poll`);
    }
    const cwd = service.working_dir ? REPO_ROOT : join(options.dataDir, "run", name);
    await Deno.mkdir(cwd, { recursive: true });
    if (name === "prometheus") {
      const page = prometheusPagePath(cwd);
      await Deno.mkdir(dirname(page), { recursive: true });
      await Deno.copyFile(PROMETHEUS_PAGE, page);
      renderedFiles.push(page);
    }
    plans.push({
      name,
      binary: binaryFor(name, options.binaries),
      args,
      env,
      cwd,
      oneShot,
      readyUrl: health && `http://127.0.0.1:${options.ports[name][health.port]}${health.path}`,
      renderedFiles,
    });
  }
  return plans;
}

/** The URLs of a stack on these ports. */
export function stackUrls(ports: PortMap, withApp: boolean): StackUrls {
  const url = (service: NativeService, port: number) => `http://127.0.0.1:${ports[service][port]}`;
  return {
    prometheus: url("prometheus", 9090),
    alertmanager: url("alertmanager", 9093),
    alertReceiver: url("alert-receiver", 9095),
    jaeger: url("jaeger", 16686),
    otlpHttp: url("otel-collector", 4318),
    otlpGrpc: `127.0.0.1:${ports["otel-collector"][4317]}`,
    collectorHealth: url("otel-collector", 13133),
    collectorMetrics: `${url("otel-collector", 8888)}/metrics`,
    ...(withApp ? { app: url("app", 8000) } : {}),
  };
}

/**
 * Starts the native stack and resolves once every component answers its health URL.
 * @example
 * await using stack = await startStack({ ports: "random", withApp: true });
 * await fetch(`${stack.urls.prometheus}/api/v1/targets`);
 */
export async function startStack(options: StackOptions = {}): Promise<RunningStack> {
  const log = options.log ?? (() => {});
  const ownDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "ict-stack-" });
  const ports = options.ports === "random"
    ? randomPortMap()
    : options.ports === undefined || options.ports === "default"
    ? DEFAULT_NATIVE_PORTS
    : options.ports;
  const withApp = options.withApp ?? false;
  const services = NATIVE_SERVICES.filter((name) => withApp || name !== "app");
  if (withApp) {
    await Deno.stat(join(REPO_ROOT, "src/main.ts")).catch(() => {
      throw new Error("--with-app: src/main.ts does not exist yet");
    });
  }

  const binaries = await stackBinaries(REPO_ROOT, options.install ?? false);
  assertPortsFree(ports, services);
  await Deno.mkdir(join(dataDir, "logs"), { recursive: true });
  const compose = await loadStackCompose(REPO_ROOT);
  const plans = await planStack({
    binaries,
    ports,
    dataDir,
    services,
    rulesDir: options.rulesDir,
    appEnv: options.appEnv,
    compose,
  });
  const urls = stackUrls(ports, withApp);
  const components: Component[] = [];
  // Started layer by layer; stopped in reverse, so the app flushes to a running collector and the
  // collector to a running Jaeger, as compose stops dependents first.
  const startedLayers: Component[][] = [];
  const state: StackState = {
    launcherPid: Deno.pid,
    startedAt: new Date().toISOString(),
    components: [],
  };
  const statePath = join(dataDir, STATE_FILE);
  const baseEnv = Deno.env.toObject();

  let stopping: Promise<void> | undefined;
  const stop = (keepData = false) =>
    stopping ??= (async () => {
      for (const layer of [...startedLayers].reverse()) {
        await stopComponents(layer, options.stopGraceMs ?? 10_000);
      }
      await Deno.remove(statePath).catch(() => {});
      if (ownDataDir && !keepData) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    })();

  const deadline = Date.now() + (options.readyTimeoutMs ?? 90_000);
  try {
    for (const layer of startLayers(compose, services)) {
      const layerComponents: Component[] = [];
      startedLayers.push(layerComponents);
      const started = layer.map((name) => {
        const plan = plans.find((p) => p.name === name)!;
        const component = spawnComponent({
          name,
          binary: plan.binary,
          args: plan.args,
          env: { ...baseEnv, ...plan.env },
          cwd: plan.cwd,
          logPath: join(dataDir, "logs", `${name}.log`),
        });
        components.push(component);
        layerComponents.push(component);
        state.components.push({ name, pid: component.pid, binary: plan.binary });
        log(`started ${name} (pid ${component.pid})`);
        return { component, plan };
      });
      await Deno.writeTextFile(statePath, JSON.stringify(state, null, 2));
      await Promise.all(started.map(async ({ component, plan }) => {
        if (plan.oneShot) {
          await waitDone(component, deadline);
          log(`${component.name} done`);
          return;
        }
        await waitReady(component, plan.readyUrl!, deadline);
        log(`${component.name} ready at ${plan.readyUrl}`);
      }));
    }
  } catch (error) {
    // Keep the data folder: the error names a log in it.
    await stop(true);
    throw error;
  }
  state.urls = urls;
  await Deno.writeTextFile(statePath, JSON.stringify(state, null, 2));

  // A one-shot has exited already, as it should: only the long-running ones count.
  const longRunning = components.filter((c) => !plans.find((p) => p.name === c.name)?.oneShot);
  const firstExit = Promise.race(
    longRunning.map((component) => component.status.then(() => component)),
  );
  return {
    urls,
    ports,
    dataDir,
    components: components.map(({ name, pid, logPath }) => ({ name, pid, logPath })),
    firstExit,
    stop: () => stop(),
    [Symbol.asyncDispose]: () => stop(),
  };
}
