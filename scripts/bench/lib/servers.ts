/**
 * Starting the servers under test: this project's server exactly as `deno task start` runs it,
 * and the bench-only servers in scripts/bench/servers/. Each listens on a free port of 127.0.0.1,
 * is pinned to the server CPUs and is polled to ready.
 */
import type { BenchContext } from "./context.ts";
import { type BenchProcess, freePort, startProcess, waitReady } from "./processes.ts";

/** A server under test. */
export interface RunningServer {
  readonly name: string;
  readonly url: string;
  readonly process: BenchProcess;
  /** Milliseconds from spawn to the first 2xx of its readiness URL. */
  readonly readyMs: number;
  /** Folder of its CPU profile, when started with one. */
  readonly profileDir?: string;
}

/** The permissions of `deno task start`. */
export const APP_FLAGS = [
  "--unstable-no-legacy-abort",
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-sys",
];

/** Settings every benchmark run of the app gets unless a contender overrides them. */
const APP_DEFAULTS: Record<string, string> = {
  HOST: "127.0.0.1",
  NO_COLOR: "1",
  // The simulated model answers at once: the benchmark measures the cost path, not a fake model.
  SIM_MODE: "echo",
};

/** Starts `src/main.ts` (or `script`) with `env`; `profile` adds --cpu-prof. */
export async function startApp(
  ctx: BenchContext,
  name: string,
  env: Record<string, string>,
  options: { script?: string; profile?: boolean; readyPath?: string; cpus?: string } = {},
): Promise<RunningServer> {
  const port = freePort();
  const profileDir = options.profile ? `${ctx.workDir}/profile-${name}` : undefined;
  const args = ["run", ...APP_FLAGS];
  if (profileDir) args.push("--cpu-prof", `--cpu-prof-dir=${profileDir}`);
  args.push(options.script ?? "src/main.ts");
  const process = startProcess({
    name,
    command: Deno.execPath(),
    args,
    env: {
      ...baseEnv(),
      ...APP_DEFAULTS,
      // The ledger is on, as shipped, in this run's own folder (a contender may turn it off).
      LEDGER_URL: `sqlite:${ctx.workDir}/ledger-${name}.sqlite`,
      ...env,
      PORT: String(port),
    },
    cwd: ctx.root,
    cpus: options.cpus ?? ctx.cpus.server,
    logDir: ctx.workDir,
  });
  const url = `http://127.0.0.1:${port}`;
  const readyMs = await waitReady(process, `${url}${options.readyPath ?? "/ready"}`);
  return { name, url, process, readyMs, profileDir };
}

/** A bench-only server from scripts/bench/servers/ (it reads PORT). */
export async function startBenchServer(
  ctx: BenchContext,
  name: string,
  file: string,
  env: Record<string, string> = {},
  options: { readyPath?: string; cpus?: string; permissions?: string[] } = {},
): Promise<RunningServer> {
  const port = freePort();
  const process = startProcess({
    name,
    command: Deno.execPath(),
    args: ["run", ...(options.permissions ?? ["--allow-net", "--allow-env", "--allow-read"]), file],
    env: { ...baseEnv(), NO_COLOR: "1", ...env, PORT: String(port) },
    cwd: ctx.root,
    cpus: options.cpus ?? ctx.cpus.server,
    logDir: ctx.workDir,
  });
  const url = `http://127.0.0.1:${port}`;
  const readyMs = await waitReady(process, `${url}${options.readyPath ?? "/health"}`);
  return { name, url, process, readyMs };
}

/**
 * The environment a server starts from: this process's, minus every OTEL_* setting, so a
 * contender's telemetry is exactly what it declares (an OTEL_DENO=true in the caller's shell must
 * not turn tracing on for the ceiling).
 */
export function baseEnv(): Record<string, string> {
  const env = Deno.env.toObject();
  for (const key of Object.keys(env)) {
    if (key.startsWith("OTEL_")) delete env[key];
  }
  return env;
}
