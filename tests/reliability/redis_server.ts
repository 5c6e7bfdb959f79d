/**
 * A throw-away redis-server for tests: a free port on 127.0.0.1, a temporary directory, no
 * persistence; stopped by its PID in `stop()`. Needs `redis-server` on PATH (scripts/setup.sh
 * installs it).
 */
import { eventually, within } from "../helpers/poll.ts";

/** A running redis-server. */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and removes its directory. */
  stop(): Promise<void>;
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function answersPing(port: number): Promise<boolean> {
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const buf = new Uint8Array(16);
    const n = await conn.read(buf);
    return n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG");
  } catch {
    return false;
  } finally {
    conn?.close();
  }
}

/** Starts redis-server (on `port`, else a free one) and waits up to 10 s until it answers PING. */
export async function startRedis(port = freePort()): Promise<RedisServer> {
  const dir = await Deno.makeTempDir({ prefix: "ict-redis-" });
  const child = new Deno.Command("redis-server", {
    args: [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const exited = child.status;
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, 5000);
    await exited;
    clearTimeout(timer);
    await child.stderr.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  let ended = false;
  exited.then(() => ended = true);
  // An exited server is an answer too: waiting longer for it would only hide the failure.
  const answer = await eventually(
    `redis-server on port ${port} answering PING`,
    within(10_000),
    async () => ended ? "exited" : await answersPing(port) && "ready",
  ).catch((error: Error) => error.message);
  if (answer !== "ready") {
    await stop();
    throw new Error(`redis-server on port ${port} did not answer PING: ${answer}`);
  }
  return { url: `redis://127.0.0.1:${port}`, port, pid: child.pid, stop };
}
