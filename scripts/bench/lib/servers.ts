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

/**
 * The flags `deno task start` runs src/main.ts with (permissions, V8 flags), read from deno.json so
 * the benchmark measures the server exactly as shipped.
 */
export function startFlags(root: string): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${root}/deno.json`)) as {
    tasks: Record<string, string>;
  };
  const words = config.tasks.start.trim().split(/\s+/);
  const run = words.indexOf("run");
  const main = words.indexOf("src/main.ts");
  if (words[0] !== "deno" || run !== 1 || main < run) {
    throw new Error(`deno.json's start task is not "deno run <flags> src/main.ts"`);
  }
  return words.slice(run + 1, main);
}

/**
 * `flags` with `v8` merged into their `--v8-flags` (one list: a second --v8-flags would not add
 * to the first); a V8 flag given in `v8` replaces the same flag from `flags`.
 */
export function withV8Flags(flags: readonly string[], v8: readonly string[]): string[] {
  if (v8.length === 0) return [...flags];
  const nameOf = (flag: string) => flag.split("=")[0];
  const names = new Set(v8.map(nameOf));
  const given = flags.find((f) => f.startsWith("--v8-flags="));
  const kept = given
    ? given.slice("--v8-flags=".length).split(",").filter((f) => f && !names.has(nameOf(f)))
    : [];
  return [
    ...flags.filter((f) => f !== given),
    `--v8-flags=${[...kept, ...v8].join(",")}`,
  ];
}

/** A ledger of its own in the work folder, so no run writes into the checkout's data/. */
export function ledgerEnv(ctx: BenchContext, name: string): Record<string, string> {
  return { LEDGER_URL: `sqlite:${ctx.workDir}/ledger-${name.replace(/[^\w.-]+/g, "_")}.sqlite` };
}

/** Settings every benchmark run of the app gets unless a contender overrides them. */
const APP_DEFAULTS: Record<string, string> = {
  HOST: "127.0.0.1",
  NO_COLOR: "1",
  // The simulated model answers at once: the benchmark measures the cost path, not a fake model.
  SIM_MODE: "echo",
};

/**
 * Starts `src/main.ts` (or `script`) with `env`; `profile` adds --cpu-prof. `cpus` overrides the
 * pinning (`cpus: undefined` runs it unpinned).
 */
export async function startApp(
  ctx: BenchContext,
  name: string,
  env: Record<string, string>,
  options: {
    script?: string;
    profile?: boolean;
    readyPath?: string;
    cpus?: string;
    /** Another checkout of the project to run the server from (default: this one). */
    root?: string;
    /** V8 flags on top of the start task's, e.g. `--max-semi-space-size=32`. */
    v8Flags?: readonly string[];
  } = {},
): Promise<RunningServer> {
  const port = freePort();
  const root = options.root ?? ctx.root;
  const profileDir = options.profile ? `${ctx.workDir}/profile-${name}` : undefined;
  const args = ["run", ...withV8Flags(startFlags(root), options.v8Flags ?? [])];
  if (profileDir) args.push("--cpu-prof", `--cpu-prof-dir=${profileDir}`);
  args.push(options.script ?? "src/main.ts");
  const process = startProcess({
    name,
    command: Deno.execPath(),
    args,
    env: { ...baseEnv(), ...APP_DEFAULTS, ...ledgerEnv(ctx, name), ...env, PORT: String(port) },
    cwd: root,
    cpus: "cpus" in options ? options.cpus : ctx.cpus.server,
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
    cpus: "cpus" in options ? options.cpus : ctx.cpus.server,
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
