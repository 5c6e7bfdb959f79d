/**
 * `deno task dev` as a developer runs it: it serves, and one SIGTERM to the task stops the server,
 * Deno's file watcher and the task itself, leaving no process behind.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { eventually } from "../helpers/poll.ts";

const REPO_ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** The parent pid of every live process, from /proc. */
async function parentPids(): Promise<Map<number, number>> {
  const parents = new Map<number, number>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid) parents.set(Number(entry.name), ppid);
  }
  return parents;
}

/** Every live descendant of pid. */
async function descendants(pid: number): Promise<number[]> {
  const parents = await parentPids();
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.pop()!;
    for (const [child, ppid] of parents) {
      if (ppid === parent) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "deno task dev serves, and one SIGTERM to the task stops the server, the watcher and the task",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const port = freePort();
    const task = new Deno.Command(Deno.execPath(), {
      args: ["task", "dev"],
      cwd: REPO_ROOT,
      env: { HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "warn", NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = Promise.all([
      new Response(task.stdout).text(),
      new Response(task.stderr).text(),
    ]).then(([out, err]) => out + err);
    let children: number[] = [];
    let status: Deno.CommandStatus | undefined;
    let leftovers: number[] = [];
    try {
      await eventually("the dev server answering /health", Date.now() + 90_000, async () => {
        const response = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
        await response?.body?.cancel();
        return response?.ok ? true : undefined;
      });
      // Whatever the task started: the watcher (and its wrapper).
      children = await descendants(task.pid);
      task.kill("SIGTERM");
      const timer = setTimeout(() => task.kill("SIGKILL"), 30_000);
      status = await task.status;
      clearTimeout(timer);
      const deadline = Date.now() + 5_000;
      do {
        leftovers = children.filter(alive);
        if (leftovers.length > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      } while (leftovers.length > 0 && Date.now() < deadline);
    } finally {
      // A watcher left behind holds the output pipes open: end it before reading them.
      for (const pid of [task.pid, ...children]) {
        if (alive(pid)) Deno.kill(pid, "SIGKILL");
      }
      await task.status;
    }
    const log = await output;
    assert.ok(children.length >= 1, `deno task started no process:\n${log}`);
    assert.equal(status.signal, null, `deno task had to be killed:\n${log}`);
    assert.equal(status.code, 0, log);
    assert.deepEqual(leftovers, [], `left running after SIGTERM:\n${log}`);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/health`));
  },
});

Deno.test("the dev task runs the server through scripts/dev.ts with the start task's flags", async () => {
  const config = JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "deno.json")));
  const dev: string = config.tasks.dev;
  assert.match(dev, /^deno run [^]*scripts\/dev\.ts [^]*src\/main\.ts$/);
  // The server's own permissions are start's, so dev and start behave alike.
  const start: string = config.tasks.start;
  assert.equal(dev.slice(dev.indexOf("scripts/dev.ts ") + 15), start.slice("deno run ".length));
});
