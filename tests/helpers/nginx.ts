/**
 * Debian's nginx for tests, running the replicas profile's balancer site (stack/nginx/replicas.conf,
 * the very file compose mounts) with its `server app-N:8000` lines and its `listen` rewritten to
 * loopback ports: a non-daemon child of the test, its pid, logs and temporary files in its own
 * prefix folder, stopped by its PID. Needs the `nginx` package (scripts/setup.sh installs it).
 */
import { join } from "node:path";
import { eventually, within } from "./poll.ts";

/** The balancer site the replicas profile mounts into the nginx image. */
export const REPLICAS_SITE = new URL("../../stack/nginx/replicas.conf", import.meta.url);

/** The nginx binary (on PATH, or Debian's /usr/sbin/nginx), or null when it is not installed. */
export function nginxBinary(): string | null {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":").filter(Boolean), "/usr/sbin"];
  for (const dir of dirs) {
    try {
      if (Deno.statSync(join(dir, "nginx")).isFile) return join(dir, "nginx");
    } catch { /* not in this one */ }
  }
  return null;
}

/**
 * The site with `server app-N:8000` → `server 127.0.0.1:<upstreamPorts[N-1]>` and its one
 * `listen 8000;` → `listen 127.0.0.1:<listenPort>;`. Throws when the site's replicas are not
 * exactly app-1…app-K for K = upstreamPorts.length, so a changed site fails loudly.
 */
export function renderReplicasSite(
  site: string,
  upstreamPorts: readonly number[],
  listenPort: number,
): string {
  const named: number[] = [];
  const upstreams = site.replace(/\bserver app-(\d+):8000\b/g, (_, n: string) => {
    named.push(Number(n));
    const port = upstreamPorts[Number(n) - 1];
    if (port === undefined) throw new Error(`replicas.conf names app-${n}: no port for it`);
    return `server 127.0.0.1:${port}`;
  });
  const expected = upstreamPorts.map((_, i) => i + 1);
  if (named.join() !== expected.join()) {
    throw new Error(`replicas.conf names replicas ${named.join()}, expected ${expected.join()}`);
  }
  const listens = upstreams.match(/^\s*listen 8000;$/gm)?.length ?? 0;
  if (listens !== 1) throw new Error(`replicas.conf has ${listens} "listen 8000;" lines, not 1`);
  return upstreams.replace(/^(\s*)listen 8000;$/m, `$1listen 127.0.0.1:${listenPort};`);
}

/**
 * The main config around the site: in the foreground, every file nginx writes inside `prefix`
 * (the package's defaults point into /var), as the image's own main config sets for its site.
 */
function mainConfig(prefix: string, sitePath: string): string {
  return `daemon off;
worker_processes 2;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 1024; }
http {
  access_log ${prefix}/access.log;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  include ${sitePath};
}
`;
}

/** A running nginx. */
export interface NginxServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** nginx's error log so far. */
  errorLog(): Promise<string>;
  /** Stops it (SIGTERM, SIGKILL after 5 s) and removes its folder. */
  stop(): Promise<void>;
}

/** Writes the config into a fresh prefix folder; the caller removes it. */
async function writeConfig(site: string): Promise<{ prefix: string; config: string }> {
  const prefix = await Deno.makeTempDir({ prefix: "ict-nginx-" });
  // Run as root, nginx's workers drop to `nobody`, which must reach the temporary folders.
  await Deno.chmod(prefix, 0o755);
  const sitePath = join(prefix, "replicas.conf");
  await Deno.writeTextFile(sitePath, site);
  const config = join(prefix, "nginx.conf");
  await Deno.writeTextFile(config, mainConfig(prefix, sitePath));
  return { prefix, config };
}

/** `nginx -t` on the site rendered for these ports: the exit code and what nginx printed. */
export async function testReplicasSite(
  upstreamPorts: readonly number[],
  listenPort: number,
): Promise<{ code: number; output: string }> {
  const binary = nginxBinary();
  if (binary === null) throw new Error("nginx not found: run scripts/setup.sh");
  const site = renderReplicasSite(
    await Deno.readTextFile(REPLICAS_SITE),
    upstreamPorts,
    listenPort,
  );
  const { prefix, config } = await writeConfig(site);
  try {
    const out = await new Deno.Command(binary, {
      args: ["-t", "-p", prefix, "-c", config, "-e", join(prefix, "error.log")],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return { code: out.code, output: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
  } finally {
    await Deno.remove(prefix, { recursive: true });
  }
}

async function accepts(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts nginx with the replicas site in front of `upstreamPorts` (app-1… in order) on
 * `listenPort` of 127.0.0.1, and waits up to 10 s until it accepts connections.
 */
export async function startReplicasBalancer(
  upstreamPorts: readonly number[],
  listenPort: number,
): Promise<NginxServer> {
  const binary = nginxBinary();
  if (binary === null) throw new Error("nginx not found: run scripts/setup.sh");
  const site = renderReplicasSite(
    await Deno.readTextFile(REPLICAS_SITE),
    upstreamPorts,
    listenPort,
  );
  const { prefix, config } = await writeConfig(site);
  const errorLogPath = join(prefix, "error.log");
  const child = new Deno.Command(binary, {
    args: ["-p", prefix, "-c", config, "-e", errorLogPath],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const exited = child.status;
  let ended = false;
  exited.then(() => ended = true);
  const errorLog = () => Deno.readTextFile(errorLogPath).catch(() => "");
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
    await Deno.remove(prefix, { recursive: true }).catch(() => {});
  };
  // An exited nginx is an answer too: its error log says why.
  const answer = await eventually(
    `nginx on port ${listenPort} accepting connections`,
    within(10_000),
    async () => ended ? "exited" : await accepts(listenPort) && "ready",
  ).catch((error: Error) => error.message);
  if (answer !== "ready") {
    const log = await errorLog();
    await stop();
    throw new Error(`nginx on port ${listenPort} did not start (${answer}):\n${log}`);
  }
  return {
    url: `http://127.0.0.1:${listenPort}`,
    port: listenPort,
    pid: child.pid,
    errorLog,
    stop,
  };
}
