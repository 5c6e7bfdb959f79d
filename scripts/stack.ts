/**
 * The native stack, for people and for tests.
 *
 *   deno task stack [--with-app] [--random-ports] [--rules-dir DIR] [--data-dir DIR] [--reset]
 *                   [--no-install] [--timeout SECONDS]
 *     Builds missing binaries (scripts/install-stack.sh), renders the stack's config files into
 *     the data folder (default .stack-data/), starts the collector, Jaeger, Prometheus,
 *     Alertmanager, the alert receiver (and the app), waits for each to be ready, prints the URLs,
 *     and runs until Ctrl-C, `deno task stack:down`, or a component dies (then exit 1, naming it).
 *   deno task stack:down [--data-dir DIR]
 *     Stops the stack that recorded its pids in DATA_DIR/stack.json.
 *
 * As a module: `startStack({ ports: "random", withApp: true })` → `{ urls, stop() }`.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  REPO_ROOT,
  type RunningStack,
  type StackState,
  startStack,
  STATE_FILE,
} from "./stack/launcher.ts";
import { processMatches } from "./stack/processes.ts";

export { planStack, REPO_ROOT, stackUrls, startStack } from "./stack/launcher.ts";
export type { RunningStack, StackOptions, StackUrls } from "./stack/launcher.ts";
export { DEFAULT_NATIVE_PORTS, type PortMap, randomPortMap } from "./stack/ports.ts";
export { type StackBinaries, stackBinaries } from "./stack/binaries.ts";

const DEFAULT_DATA_DIR = join(REPO_ROOT, ".stack-data");

function say(line: string) {
  console.error(`stack: ${line}`);
}

async function readState(dataDir: string): Promise<StackState | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(join(dataDir, STATE_FILE)));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function waitGone(pid: number, expected: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await processMatches(pid, expected)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

function signal(pid: number, name: Deno.Signal) {
  try {
    Deno.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/** Stops a stack from its pid file: the launcher first (it stops its children), then leftovers. */
async function down(dataDir: string): Promise<void> {
  const state = await readState(dataDir);
  if (!state) {
    say(`no native stack recorded in ${join(dataDir, STATE_FILE)}: nothing to stop`);
    return;
  }
  if (state.launcherPid !== Deno.pid && await processMatches(state.launcherPid, "stack.ts")) {
    say(`stopping the launcher (pid ${state.launcherPid})`);
    signal(state.launcherPid, "SIGTERM");
    await waitGone(state.launcherPid, "stack.ts", 20_000);
  }
  for (const component of [...state.components].reverse()) {
    if (!await processMatches(component.pid, component.binary)) continue;
    say(`stopping ${component.name} (pid ${component.pid})`);
    signal(component.pid, "SIGTERM");
    if (!await waitGone(component.pid, component.binary, 10_000)) {
      say(`${component.name} ignored TERM for 10 s: KILL`);
      signal(component.pid, "SIGKILL");
    }
  }
  await Deno.remove(join(dataDir, STATE_FILE)).catch(() => {});
  say("stopped");
}

function printUrls(stack: RunningStack) {
  const rows: Array<[string, string | undefined, string]> = [
    ["app", stack.urls.app, "the inference API, /metrics, /health, /ready"],
    ["prometheus", stack.urls.prometheus, "no UI natively (/ lists the API): /api/v1/alerts"],
    ["alertmanager", stack.urls.alertmanager, "no UI natively (/ lists the API): /api/v2/alerts"],
    ["alert-receiver", stack.urls.alertReceiver, "GET /alerts: what Alertmanager delivered"],
    ["jaeger", stack.urls.jaeger, "query API natively: /api/services, /api/traces"],
    ["otlp http", stack.urls.otlpHttp, "send OTLP here (/v1/traces, /v1/metrics, /v1/logs)"],
    ["otlp grpc", stack.urls.otlpGrpc, ""],
    ["collector", stack.urls.collectorMetrics, "the collector's own metrics"],
  ];
  for (const [name, url, note] of rows) {
    if (url) console.log(`  ${name.padEnd(15)} ${url.padEnd(34)} ${note}`.trimEnd());
  }
  console.log(`  data and logs   ${stack.dataDir}`);
  if (stack.urls.app) {
    console.log(
      "Fire a cost alert end to end (about 7 minutes): ./scripts/deno task spike runaway-tenant --verify",
    );
  }
}

async function up(flags: {
  withApp: boolean;
  randomPorts: boolean;
  rulesDir?: string;
  dataDir: string;
  reset: boolean;
  install: boolean;
  timeoutSeconds: number;
}): Promise<number> {
  const running = await readState(flags.dataDir);
  if (running && await processMatches(running.launcherPid, "stack.ts")) {
    say(
      `a native stack is already running (launcher pid ${running.launcherPid}): ./scripts/deno task stack:down`,
    );
    return 1;
  }
  if (flags.reset) {
    say(`reset: removing ${flags.dataDir}`);
    await Deno.remove(flags.dataDir, { recursive: true }).catch(() => {});
  }
  await Deno.mkdir(flags.dataDir, { recursive: true });

  const stack = await startStack({
    ports: flags.randomPorts ? "random" : "default",
    withApp: flags.withApp,
    rulesDir: flags.rulesDir,
    dataDir: flags.dataDir,
    install: flags.install,
    readyTimeoutMs: flags.timeoutSeconds * 1000,
    log: say,
  });
  console.log("native stack ready (Ctrl-C or `./scripts/deno task stack:down` stops it):");
  printUrls(stack);

  const stopRequested = Promise.withResolvers<Deno.Signal>();
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(name, () => stopRequested.resolve(name));
  }
  const outcome = await Promise.race([
    stopRequested.promise.then((name) => ({ signal: name })),
    stack.firstExit.then((component) => ({ component })),
  ]);
  if ("signal" in outcome) {
    say(`${outcome.signal}: stopping`);
    await stack.stop();
    say("stopped");
    return 0;
  }
  const { component } = outcome;
  // Ctrl-C reaches the whole process group, so a component may exit on SIGINT before we hear it.
  if (component.exit?.signal === "SIGINT" || component.exit?.signal === "SIGTERM") {
    say(`${component.name} stopped by ${component.exit.signal}: stopping the rest`);
    await stack.stop();
    return 0;
  }
  say(
    `${component.name} died (${
      component.exit?.signal
        ? `signal ${component.exit.signal}`
        : `exit code ${component.exit?.code}`
    }); see ${component.logPath}. Stopping the rest.`,
  );
  await stack.stop();
  return 1;
}

if (import.meta.main) {
  const { positionals, values } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      "with-app": { type: "boolean", default: false },
      "random-ports": { type: "boolean", default: false },
      "rules-dir": { type: "string" },
      "data-dir": { type: "string", default: DEFAULT_DATA_DIR },
      reset: { type: "boolean", default: false },
      "no-install": { type: "boolean", default: false },
      timeout: { type: "string", default: "90" },
    },
  });
  const command = positionals[0] ?? "up";
  try {
    if (command === "up") {
      Deno.exit(
        await up({
          withApp: values["with-app"],
          randomPorts: values["random-ports"],
          rulesDir: values["rules-dir"],
          dataDir: values["data-dir"],
          reset: values.reset,
          install: !values["no-install"],
          timeoutSeconds: Number(values.timeout),
        }),
      );
    } else if (command === "down") {
      await down(values["data-dir"]);
    } else {
      say(`unknown command ${command}: use up or down`);
      Deno.exit(2);
    }
  } catch (error) {
    say(error instanceof Error ? error.message : String(error));
    Deno.exit(1);
  }
}
