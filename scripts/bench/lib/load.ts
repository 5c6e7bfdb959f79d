/**
 * Load generators, each run as its own pinned process and measured (CPU use beside every figure):
 *
 * - `wrk` for maximum throughput (closed loop, fixed connections; its latencies suffer from
 *   coordinated omission, so only its requests/s are used).
 * - `vegeta` for latency at a fixed rate: an open model that starts a request on schedule whether
 *   or not earlier ones have answered, so a slow response cannot hide the ones queued behind it.
 *   With `rate: 0` it is a closed loop, the fallback for maximum throughput without wrk.
 * - `oha --latency-correction` for one client at a fixed rate: latency is measured from when each
 *   request was due, not when it was sent.
 * - a built-in `fetch` loop, only when none of the tools is installed (smoke runs); flagged.
 *
 * A figure taken while the load tool itself used ≥ 90 % of the CPUs it was given is flagged
 * `saturated`: it measures the tool, not the server.
 */
import { logTail, pinned, procCpuSeconds } from "./processes.ts";

/** One HTTP request to send over and over. */
export interface Target {
  readonly url: string;
  readonly method: "GET" | "POST";
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/** What one load run measured. */
export interface LoadResult {
  readonly tool: "wrk" | "vegeta" | "oha" | "fetch-loop";
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  /** Responses that were not 2xx, plus transport errors. */
  readonly errors: number;
  /** Latency percentiles in milliseconds, when the tool's latencies are meaningful here. */
  readonly latencyMs?: { p50: number; p90: number; p99: number; max: number };
  /** Average cores the load tool used. */
  readonly toolCpu: number;
  /** True when the tool used ≥ 90 % of the CPUs it was pinned to. */
  readonly saturated: boolean;
  /** For fixed-rate runs: the rate actually achieved divided by the rate asked for. */
  readonly rateAchieved?: number;
  /** What the failures were, as the tool reported them. */
  readonly errorDetail?: string;
}

/** Where the tools are; a missing one is undefined. */
export interface Tools {
  readonly wrk?: string;
  readonly vegeta?: string;
  readonly oha?: string;
  readonly portkey?: string;
  readonly otelcol?: string;
  readonly time?: string;
}

/** Runs a tool to completion pinned to `cpus`, with its CPU seconds; throws on a non-zero exit. */
async function runTool(
  tools: Tools,
  cpus: string | undefined,
  command: string,
  args: string[],
  workDir: string,
  stdin?: string,
): Promise<{ stdout: string; stderr: string; cpuSeconds: number; wallSeconds: number }> {
  const timesFile = `${workDir}/times.${crypto.randomUUID()}`;
  const wrapped: [string, string[]] = tools.time
    ? [tools.time, ["-f", "%U %S", "-o", timesFile, command, ...args]]
    : [command, args];
  const [bin, binArgs] = pinned(cpus, wrapped[0], wrapped[1]);
  const started = performance.now();
  const child = new Deno.Command(bin, {
    args: binArgs,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Without /usr/bin/time, sample /proc until exit (undercounts by at most one interval).
  let sampled = 0;
  const sampler = tools.time ? undefined : setInterval(() => {
    sampled = procCpuSeconds(child.pid) ?? sampled;
  }, 100);
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  if (sampler !== undefined) clearInterval(sampler);
  const wallSeconds = (performance.now() - started) / 1000;
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  let cpuSeconds = sampled;
  if (tools.time) {
    try {
      const [user, system] = Deno.readTextFileSync(timesFile).trim().split("\n").pop()!.split(" ")
        .map(Number);
      cpuSeconds = user + system;
      Deno.removeSync(timesFile);
    } catch {
      // The tool failed before time wrote its line; the exit code below says why.
    }
  }
  if (!out.success) {
    throw new Error(`${command} ${args.join(" ")} exited with ${out.code}:\n${stderr}\n${stdout}`);
  }
  return { stdout, stderr, cpuSeconds, wallSeconds };
}

function cpusIn(list: string | undefined): number {
  if (!list) return navigator.hardwareConcurrency ?? 1;
  return list.split(",").reduce((n, part) => {
    const [a, b] = part.split("-").map(Number);
    return n + (b === undefined ? 1 : b - a + 1);
  }, 0);
}

function luaString(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** Maximum throughput with wrk: `connections` over one thread for `seconds`. */
export async function wrkMax(
  tools: Tools,
  target: Target,
  opts: { connections: number; seconds: number; cpus?: string; workDir: string },
): Promise<LoadResult> {
  if (!tools.wrk) throw new Error("wrk is not installed");
  const script = `${opts.workDir}/wrk-${crypto.randomUUID()}.lua`;
  const lines = [`wrk.method = "${target.method}"`];
  for (const [k, v] of Object.entries(target.headers ?? {})) {
    lines.push(`wrk.headers[${luaString(k)}] = ${luaString(v)}`);
  }
  if (target.body !== undefined) lines.push(`wrk.body = ${luaString(target.body)}`);
  Deno.writeTextFileSync(script, lines.join("\n") + "\n");
  const run = await runTool(tools, opts.cpus, tools.wrk, [
    "-t1",
    `-c${opts.connections}`,
    `-d${opts.seconds}s`,
    "-s",
    script,
    target.url,
  ], opts.workDir);
  Deno.removeSync(script);
  const requests = Number(/(\d+) requests in/.exec(run.stdout)?.[1] ?? NaN);
  const seconds = parseDuration(/requests in ([\d.]+\w+)/.exec(run.stdout)?.[1] ?? "NaN");
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(run.stdout)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    run.stdout,
  );
  const socketErrors = socket ? socket.slice(1).reduce((n, v) => n + Number(v), 0) : 0;
  const toolCpu = run.cpuSeconds / run.wallSeconds;
  return {
    tool: "wrk",
    requests,
    seconds,
    requestsPerSecond: requests / seconds,
    errors: non2xx + socketErrors,
    toolCpu,
    saturated: toolCpu >= 0.9,
  };
}

function parseDuration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) return NaN;
  const scale = { us: 1e-6, ms: 1e-3, s: 1, m: 60 }[m[2] as "us" | "ms" | "s" | "m"];
  return Number(m[1]) * scale;
}

function vegetaTargets(targets: readonly Target[], workDir: string): string {
  return targets.map((target) => {
    const lines = [`${target.method} ${target.url}`];
    for (const [k, v] of Object.entries(target.headers ?? {})) lines.push(`${k}: ${v}`);
    if (target.body !== undefined) {
      const bodyFile = `${workDir}/vegeta-body-${crypto.randomUUID()}`;
      Deno.writeTextFileSync(bodyFile, target.body);
      lines.push(`@${bodyFile}`);
    }
    return lines.join("\n") + "\n";
  }).join("\n");
}

/**
 * Vegeta at `rate` requests/s for `seconds` (open model, CO-free), or with `rate: 0` as fast as
 * `workers` closed-loop workers go. Latencies are reported either way.
 */
export async function vegeta(
  tools: Tools,
  target: Target | readonly Target[],
  opts: { rate: number; seconds: number; workers?: number; cpus?: string; workDir: string },
): Promise<LoadResult> {
  if (!tools.vegeta) throw new Error("vegeta is not installed");
  const results = `${opts.workDir}/vegeta-${crypto.randomUUID()}.bin`;
  const args = [
    "attack",
    "-format=http",
    `-rate=${opts.rate === 0 ? "0" : `${opts.rate}/s`}`,
    `-duration=${Math.round(opts.seconds * 1000)}ms`,
    `-output=${results}`,
    "-timeout=10s",
  ];
  if (opts.workers !== undefined || opts.rate === 0) {
    const workers = opts.workers ?? 16;
    args.push(`-workers=${workers}`, `-max-workers=${workers}`, `-max-connections=${workers}`);
  }
  const attack = await runTool(
    tools,
    opts.cpus,
    tools.vegeta,
    args,
    opts.workDir,
    vegetaTargets(Array.isArray(target) ? target : [target as Target], opts.workDir),
  );
  const report = await runTool(tools, undefined, tools.vegeta, [
    "report",
    "-type=json",
    results,
  ], opts.workDir);
  Deno.removeSync(results);
  const r = JSON.parse(report.stdout) as {
    requests: number;
    rate: number;
    throughput: number;
    duration: number;
    wait: number;
    success: number;
    latencies: Record<"50th" | "90th" | "99th" | "max", number>;
    status_codes?: Record<string, number>;
    errors?: string[];
  };
  const ms = (ns: number) => ns / 1e6;
  const toolCpu = attack.cpuSeconds / attack.wallSeconds;
  const rateAchieved = opts.rate > 0 ? r.rate / opts.rate : undefined;
  return {
    tool: "vegeta",
    requests: r.requests,
    seconds: (r.duration + r.wait) / 1e9,
    requestsPerSecond: opts.rate > 0 ? r.throughput : r.requests / ((r.duration + r.wait) / 1e9),
    errors: Math.round(r.requests * (1 - r.success)),
    latencyMs: {
      p50: ms(r.latencies["50th"]),
      p90: ms(r.latencies["90th"]),
      p99: ms(r.latencies["99th"]),
      max: ms(r.latencies.max),
    },
    toolCpu,
    saturated: toolCpu >= 0.9 * cpusIn(opts.cpus) ||
      (rateAchieved !== undefined && rateAchieved < 0.98),
    rateAchieved,
    errorDetail: r.success < 1
      ? JSON.stringify({ status: r.status_codes, errors: r.errors?.slice(0, 5) })
      : undefined,
  };
}

/**
 * One client (one connection) at a fixed rate with oha, latency measured from each request's due
 * time (`--latency-correction`), so a stall cannot hide the requests queued behind it.
 */
export async function ohaOneClient(
  tools: Tools,
  target: Target,
  opts: { rate: number; seconds: number; cpus?: string; workDir: string },
): Promise<LoadResult> {
  if (!tools.oha) throw new Error("oha is not installed");
  const args = [
    "-z",
    `${Math.round(opts.seconds * 1000)}ms`,
    "-c",
    "1",
    "-q",
    String(opts.rate),
    "--latency-correction",
    "--no-tui",
    "--output-format",
    "json",
    "-m",
    target.method,
  ];
  for (const [k, v] of Object.entries(target.headers ?? {})) args.push("-H", `${k}: ${v}`);
  if (target.body !== undefined) args.push("-d", target.body);
  args.push(target.url);
  const run = await runTool(tools, opts.cpus, tools.oha, args, opts.workDir);
  const r = JSON.parse(run.stdout) as {
    summary: { total: number; requestsPerSec: number; successRate: number };
    latencyPercentiles: Record<"p50" | "p90" | "p99" | "p100", number>;
    statusCodeDistribution: Record<string, number>;
    errorDistribution: Record<string, number>;
  };
  // The request still in flight when the duration ends is cut off by oha itself, not failed.
  const errors = Object.entries(r.errorDistribution)
    .filter(([kind]) => kind !== "aborted due to deadline")
    .reduce((n, [, count]) => n + count, 0);
  const requests = Object.values(r.statusCodeDistribution).reduce((a, b) => a + b, 0) + errors;
  const ok = Object.entries(r.statusCodeDistribution)
    .filter(([code]) => code.startsWith("2"))
    .reduce((n, [, count]) => n + count, 0);
  const toolCpu = run.cpuSeconds / run.wallSeconds;
  const rateAchieved = r.summary.requestsPerSec / opts.rate;
  return {
    tool: "oha",
    requests,
    seconds: r.summary.total,
    requestsPerSecond: r.summary.requestsPerSec,
    errors: requests - ok,
    latencyMs: {
      p50: r.latencyPercentiles.p50 * 1000,
      p90: r.latencyPercentiles.p90 * 1000,
      p99: r.latencyPercentiles.p99 * 1000,
      max: r.latencyPercentiles.p100 * 1000,
    },
    toolCpu,
    saturated: toolCpu >= 0.9 * cpusIn(opts.cpus) || rateAchieved < 0.98,
    rateAchieved,
    errorDetail: requests > ok
      ? JSON.stringify({ status: r.statusCodeDistribution, errors: r.errorDistribution })
      : undefined,
  };
}

/**
 * The fallback when no load tool is installed: `connections` closed-loop fetch workers in this
 * process for `seconds`. Only smoke runs use it; its figures measure Deno's fetch as much as the
 * server and are never published.
 */
export async function fetchLoop(
  target: Target,
  opts: { connections: number; seconds: number },
): Promise<LoadResult> {
  const deadline = performance.now() + opts.seconds * 1000;
  const latencies: number[] = [];
  let errors = 0;
  const cpuBefore = procCpuSeconds(Deno.pid) ?? 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: opts.connections }, async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        const res = await fetch(target.url, {
          method: target.method,
          headers: target.headers,
          body: target.body,
        });
        await res.arrayBuffer();
        if (!res.ok) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t0);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  const toolCpu = ((procCpuSeconds(Deno.pid) ?? 0) - cpuBefore) / seconds;
  return {
    tool: "fetch-loop",
    requests: latencies.length,
    seconds,
    requestsPerSecond: latencies.length / seconds,
    errors,
    latencyMs: latencies.length
      ? { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: latencies[latencies.length - 1] }
      : undefined,
    toolCpu,
    saturated: toolCpu >= 0.9,
  };
}

/** Maximum throughput with the best tool installed: wrk, else vegeta closed loop, else fetch. */
export function maxThroughput(
  tools: Tools,
  target: Target,
  opts: { connections: number; seconds: number; cpus?: string; workDir: string },
): Promise<LoadResult> {
  if (tools.wrk) return wrkMax(tools, target, opts);
  if (tools.vegeta) {
    return vegeta(tools, target, { ...opts, rate: 0, workers: opts.connections });
  }
  return fetchLoop(target, opts);
}

/** Fixed-rate latency with vegeta (round-robin over `target` when it is a list). */
export function fixedRate(
  tools: Tools,
  target: Target | readonly Target[],
  opts: { rate: number; seconds: number; cpus?: string; workDir: string },
): Promise<LoadResult> {
  if (tools.vegeta) return vegeta(tools, target, opts);
  const first = Array.isArray(target) ? target[0] : target as Target;
  return fetchLoop(first, { connections: 4, seconds: opts.seconds });
}

/** One client at a fixed rate: oha with latency correction, else vegeta with one worker. */
export function oneClient(
  tools: Tools,
  target: Target,
  opts: { rate: number; seconds: number; cpus?: string; workDir: string },
): Promise<LoadResult> {
  if (tools.oha) return ohaOneClient(tools, target, opts);
  if (tools.vegeta) return vegeta(tools, target, { ...opts, workers: 1 });
  return fetchLoop(target, { connections: 1, seconds: opts.seconds });
}

/** Throws when a run saw errors, naming the contender, with its server's log tail. */
export function assertClean(name: string, result: LoadResult, logPath?: string): void {
  if (result.requests === 0) throw new Error(`${name}: no request completed`);
  if (result.errors > 0) {
    throw new Error(
      `${name}: ${result.errors} of ${result.requests} requests failed (${result.tool}): ${
        result.errorDetail ?? "no detail"
      }${logPath ? `\n${logTail(logPath)}` : ""}`,
    );
  }
}
