/**
 * Native processes of the stack: start one with its output in a log file, poll it to ready
 * against a deadline (failing fast if it dies first), stop a set of them with TERM and a
 * watchdog KILL.
 */

/** A started component. */
export interface Component {
  name: string;
  pid: number;
  binary: string;
  logPath: string;
  /** Resolves when the process exits, however it exits. */
  status: Promise<Deno.CommandStatus>;
  /** Set once the process has exited. */
  exit?: Deno.CommandStatus;
  kill(signal: Deno.Signal): void;
}

export interface SpawnOptions {
  name: string;
  binary: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  logPath: string;
}

/**
 * Starts a process with stdout and stderr appended to logPath. The shell execs the program, so
 * the pid is the program's own and its output does not pass through this process (it keeps
 * running, and logging, if the launcher goes away).
 */
export function spawnComponent(options: SpawnOptions): Component {
  const child = new Deno.Command("/bin/sh", {
    args: [
      "-c",
      'log=$1; shift; exec "$@" >>"$log" 2>&1',
      "sh",
      options.logPath,
      options.binary,
      ...options.args,
    ],
    env: options.env,
    clearEnv: true,
    cwd: options.cwd,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const component: Component = {
    name: options.name,
    pid: child.pid,
    binary: options.binary,
    logPath: options.logPath,
    status: child.status.then((status) => (component.exit = status)),
    kill: (signal) => {
      if (component.exit) return;
      try {
        child.kill(signal);
      } catch (error) {
        // Exited between the check and the signal.
        if (!(error instanceof TypeError || error instanceof Deno.errors.NotFound)) throw error;
      }
    },
  };
  return component;
}

/** The last lines of a component's log, for error messages. */
export async function logTail(path: string, lines = 15): Promise<string> {
  try {
    const text = await Deno.readTextFile(path);
    return text.trimEnd().split("\n").slice(-lines).map((line) => `    ${line}`).join("\n");
  } catch {
    return "    (no log)";
  }
}

function describeExit(status: Deno.CommandStatus): string {
  return status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
}

/**
 * Polls url until it answers 2xx, the component exits (fail fast, naming it), or the deadline
 * (epoch ms) passes; the error names the component, the last failure and its log's tail.
 */
export async function waitReady(
  component: Component,
  url: string,
  deadline: number,
): Promise<void> {
  let lastError = "no answer yet";
  while (true) {
    if (component.exit) {
      throw new Error(
        `${component.name} ${describeExit(component.exit)} before it was ready ` +
          `(log ${component.logPath}):\n${await logTail(component.logPath)}`,
      );
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      if (response.ok) return;
      lastError = `${url} answered ${response.status}`;
    } catch (error) {
      lastError = `${url}: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${component.name} was not ready in time; last: ${lastError} ` +
          `(log ${component.logPath}):\n${await logTail(component.logPath)}`,
      );
    }
    await Promise.race([component.status, new Promise((resolve) => setTimeout(resolve, 200))]);
  }
}

/**
 * Waits for a one-shot to exit 0; throws naming it, its exit and its log's tail if it fails or
 * outlives the deadline (epoch ms).
 */
export async function waitDone(component: Component, deadline: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline - Date.now()));
  });
  const outcome = await Promise.race([component.status, timedOut]);
  clearTimeout(timer);
  if (outcome === "timeout") {
    throw new Error(
      `${component.name} did not finish in time (log ${component.logPath}):\n` +
        await logTail(component.logPath),
    );
  }
  if (!outcome.success) {
    throw new Error(
      `${component.name} ${describeExit(outcome)} (log ${component.logPath}):\n` +
        await logTail(component.logPath),
    );
  }
}

/**
 * Sends TERM to every running component (last started first), waits up to graceMs for them to
 * exit, then KILLs the rest and waits for those too.
 */
export async function stopComponents(components: Component[], graceMs = 10_000): Promise<void> {
  const running = [...components].reverse().filter((component) => !component.exit);
  for (const component of running) component.kill("SIGTERM");
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  const exited = Promise.all(running.map((component) => component.status));
  const timedOut = new Promise<"timeout">((resolve) => {
    watchdog = setTimeout(() => resolve("timeout"), graceMs);
  });
  const outcome = await Promise.race([exited, timedOut]);
  clearTimeout(watchdog);
  if (outcome === "timeout") {
    for (const component of running) component.kill("SIGKILL");
    await exited;
  }
}

/** True when pid is alive and its command line mentions `expected` (guards recycled pids). */
export async function processMatches(pid: number, expected: string): Promise<boolean> {
  try {
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
    return cmdline.split("\0").some((part) => part.includes(expected));
  } catch {
    return false;
  }
}
