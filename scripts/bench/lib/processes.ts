/**
 * The processes a benchmark runs: started pinned to CPUs with `taskset` (when present), polled to
 * ready against a deadline, measured from /proc (CPU seconds, resident memory) and stopped by
 * their own pid with TERM, then KILL after a grace period. Nothing here signals a process it did
 * not start.
 */

/** A process started by the benchmark. */
export interface BenchProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves when the process exits. */
  readonly status: Promise<Deno.CommandStatus>;
  /** CPU seconds (user + system) used so far; undefined once it has exited. */
  cpuSeconds(): number | undefined;
  /** Resident set size in bytes; undefined once it has exited. */
  rssBytes(): number | undefined;
  /** TERM, then KILL after `graceMs`; resolves on exit. */
  stop(graceMs?: number): Promise<Deno.CommandStatus>;
}

/** How to start one process. */
export interface StartOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** CPU list for `taskset -c`, e.g. "1"; omitted or taskset missing: not pinned. */
  readonly cpus?: string;
  readonly logDir: string;
}

const TICKS_PER_SECOND = 100;
let tasksetPath: string | null | undefined;

/** The `taskset` binary, or null when this machine has none. */
export function taskset(): string | null {
  if (tasksetPath === undefined) {
    tasksetPath = ["/usr/bin/taskset", "/bin/taskset"].find((p) => exists(p)) ?? null;
  }
  return tasksetPath;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Number of CPUs this process may run on. */
export function cpuCount(): number {
  return navigator.hardwareConcurrency ?? 1;
}

/** Wraps a command in `taskset -c <cpus>` when pinning is asked for and possible. */
export function pinned(
  cpus: string | undefined,
  command: string,
  args: readonly string[],
): [string, string[]] {
  const bin = taskset();
  if (!cpus || !bin) return [command, [...args]];
  return [bin, ["-c", cpus, command, ...args]];
}

/** CPU seconds (utime + stime) of a pid from /proc/<pid>/stat. */
export function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) may hold spaces; fields resume after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Resident set size of a pid in bytes from /proc/<pid>/status. */
export function procRssBytes(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Machine load averages (1, 5, 15 minutes). */
export function loadAverage(): [number, number, number] {
  try {
    const [a, b, c] = Deno.readTextFileSync("/proc/loadavg").split(" ").map(Number);
    return [a, b, c];
  } catch {
    return [NaN, NaN, NaN];
  }
}

/** A free TCP port on 127.0.0.1 (bound, then released, so it is free at the time of asking). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Starts a process with its output in `<logDir>/<name>.log`. */
export function startProcess(options: StartOptions): BenchProcess {
  const logPath = `${options.logDir}/${options.name.replace(/[^\w.-]+/g, "_")}.log`;
  const [command, args] = pinned(options.cpus, options.command, options.args);
  // The shell execs the program, so the pid is the program's own.
  const child = new Deno.Command("/bin/sh", {
    args: ["-c", 'log=$1; shift; exec "$@" >"$log" 2>&1', "sh", logPath, command, ...args],
    env: options.env,
    cwd: options.cwd,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  return {
    name: options.name,
    pid: child.pid,
    logPath,
    status,
    cpuSeconds: () => exited ? undefined : procCpuSeconds(child.pid),
    rssBytes: () => exited ? undefined : procRssBytes(child.pid),
    async stop(graceMs = 5_000) {
      if (exited) return status;
      signal(child, "SIGTERM");
      const timer = setTimeout(() => signal(child, "SIGKILL"), graceMs);
      try {
        return await status;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

function signal(child: Deno.ChildProcess, sig: Deno.Signal): void {
  try {
    child.kill(sig);
  } catch {
    // Already exited.
  }
}

/** The last lines of a log, for error messages. */
export function logTail(path: string, lines = 20): string {
  try {
    return Deno.readTextFileSync(path).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/**
 * Polls `url` until it answers 2xx, the process exits, or `timeoutMs` passes; throws with the
 * process's log tail otherwise. Returns the milliseconds waited.
 */
export async function waitReady(
  proc: BenchProcess,
  url: string,
  timeoutMs = 30_000,
  init?: RequestInit,
): Promise<number> {
  const started = performance.now();
  let exited = false;
  proc.status.then(() => exited = true);
  let last = "";
  while (performance.now() - started < timeoutMs) {
    if (exited) {
      throw new Error(`${proc.name} exited before it was ready:\n${logTail(proc.logPath)}`);
    }
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      if (res.ok) return performance.now() - started;
      last = `HTTP ${res.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(
    `${proc.name} not ready at ${url} after ${timeoutMs} ms (last: ${last}):\n${
      logTail(proc.logPath)
    }`,
  );
}

/** CPU seconds a set of processes use while `work` runs, and what `work` returned. */
export async function measureCpu<T>(
  procs: readonly BenchProcess[],
  work: () => Promise<T>,
): Promise<{ result: T; cpu: Record<string, number>; wallSeconds: number }> {
  const before = procs.map((p) => p.cpuSeconds() ?? 0);
  const started = performance.now();
  const result = await work();
  const wallSeconds = (performance.now() - started) / 1000;
  const cpu: Record<string, number> = {};
  procs.forEach((p, i) => {
    const after = p.cpuSeconds();
    if (after !== undefined) cpu[p.name] = (after - before[i]) / wallSeconds;
  });
  return { result, cpu, wallSeconds };
}
