/**
 * A throw-away PostgreSQL server for tests, from Debian's package: a fresh cluster in a temporary
 * directory owned by the package's `postgres` user (the server refuses to run as root), listening
 * on a free port of 127.0.0.1 only, trusted local logins. `stop()` shuts it down (the cluster is
 * kept, so `start()` brings the same data back: an outage); `destroy()` removes everything.
 * Needs the server binaries (scripts/setup.sh installs the `postgresql` package).
 */
import { freePort } from "../reliability/redis_server.ts";

const BIN_DIRS = [
  "/usr/lib/postgresql/17/bin",
  "/usr/lib/postgresql/16/bin",
  "/usr/lib/postgresql/15/bin",
];

/** The directory holding initdb and pg_ctl, or null when PostgreSQL is not installed. */
export function postgresBinDir(): string | null {
  for (const dir of BIN_DIRS) {
    try {
      Deno.statSync(`${dir}/pg_ctl`);
      return dir;
    } catch { /* try the next version */ }
  }
  return null;
}

/** A running (or stopped) test cluster. */
export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;
  readonly port: number;
  /** Starts the server (again) and waits until it accepts connections. */
  start(): Promise<void>;
  /** Fast shutdown: connections are cut, committed data stays. */
  stop(): Promise<void>;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

async function run(args: string[], what: string): Promise<void> {
  const out = await new Deno.Command("runuser", {
    args: ["-u", "postgres", "--", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    throw new Error(`${what} failed (${out.code}): ${text.slice(-2000)}`);
  }
}

async function lookUpUser(name: string): Promise<{ uid: number; gid: number }> {
  const passwd = await Deno.readTextFile("/etc/passwd");
  const line = passwd.split("\n").find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no user ${name}: install the postgresql package`);
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

/** Creates a cluster on a free port and starts it; waits up to 30 s until it accepts logins. */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (bin === null) throw new Error("PostgreSQL server binaries not found: run scripts/setup.sh");
  const { uid, gid } = await lookUpUser("postgres");
  const dir = await Deno.makeTempDir({ prefix: "ict-pg-" });
  await Deno.chown(dir, uid, gid);
  const data = `${dir}/data`;
  await run(
    [`${bin}/initdb`, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
    "initdb",
  );
  const port = freePort();
  // fsync off: a test cluster needs no power-loss safety, and a fast shutdown (the outage the tests
  // make) still keeps every committed row.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  let running = false;
  const start = async () => {
    if (running) return;
    await run(
      [
        `${bin}/pg_ctl`,
        "-D",
        data,
        "-l",
        `${dir}/server.log`,
        "-o",
        options,
        "-w",
        "-t",
        "30",
        "start",
      ],
      "pg_ctl start",
    );
    running = true;
  };
  const stop = async () => {
    if (!running) return;
    await run([`${bin}/pg_ctl`, "-D", data, "-m", "fast", "-w", "-t", "30", "stop"], "pg_ctl stop");
    running = false;
  };
  try {
    await start();
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    async destroy() {
      await stop().catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
