/**
 * `deno task dev`: `deno run --watch ARGS...` (the server, restarted on every change), stopped as a
 * whole by SIGTERM or SIGINT (Ctrl-C). Without this, Deno's watcher outlives the server: the server
 * takes the signal for its graceful shutdown (drain, flush, exit), and the watcher then waits for
 * the next file change instead of exiting. So the signal is passed on and repeated until the
 * watcher is gone: while the server drains, a repeat changes nothing; once it has exited, the
 * next one ends the watcher. After KILL_AFTER_MS the watcher is killed.
 *
 *   deno run --allow-read --allow-run scripts/dev.ts [deno run flags...] src/main.ts
 */

/** How often the signal is repeated while the watcher lives. */
const REPEAT_MS = 250;
/** Past the server's drain (SHUTDOWN_TIMEOUT_MS, 10 s) and span flush (3 s), with room. */
const KILL_AFTER_MS = 30_000;

const watcher = new Deno.Command(Deno.execPath(), {
  args: ["run", "--watch", ...Deno.args],
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();

function send(signal: Deno.Signal) {
  try {
    watcher.kill(signal);
  } catch {
    // Already exited.
  }
}

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  const started = Date.now();
  send("SIGTERM");
  const repeat = setInterval(
    () => send(Date.now() - started > KILL_AFTER_MS ? "SIGKILL" : "SIGTERM"),
    REPEAT_MS,
  );
  watcher.status.finally(() => clearInterval(repeat));
}

for (const signal of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(signal, stop);
const status = await watcher.status;
// Stopped by us: a clean stop. Otherwise the watcher's own exit (it keeps running on a crash).
Deno.exit(stopping ? 0 : status.code);
