/**
 * The ledger file's WAL checkpoints, on a thread of their own so that the writer worker's commits
 * never wait for one.
 *
 * Why: left to SQLite, the commit that takes the WAL past 1,000 pages runs the checkpoint itself,
 * copying those pages into the database file and syncing both files. Measured here (4 rows a
 * commit, 1,100 commits/s, 8 s): 56 of 8,889 commits took 4-6 ms (one 88 ms), 3-4 % of the run
 * during which every response waiting for its row waited too. With this thread doing the copying
 * (a PASSIVE checkpoint, which runs beside the writer) and the writer's automatic checkpoint out
 * of the way, 13-16 commits took over 1 ms (1.3-3.4 ms), all of them waiting on the short RESTART
 * below.
 *
 * A PASSIVE checkpoint never takes the writer's lock, but under steady writes it never catches the
 * WAL's end either, so the writer never starts the log over and the file grows. Once the log holds
 * `RESTART_FRAMES` (writer.ts) pages, all of them copied, a RESTART checkpoint takes the writer's
 * lock for the few pages written since and the syncs (1.3-1.9 ms measured) so that the next commit
 * writes the log from its start. It asks once: with no busy wait, a writer holding the lock or a
 * reader still on older pages (a long report) makes it give up until the next look, rather than
 * hold the writer back behind them.
 *
 * After each look that did not fail it bumps a shared heartbeat; the writer turns its own automatic
 * checkpoint off while the heartbeat moves and back on (SQLite's default) when it stops, so a
 * thread that died or a file it cannot checkpoint never lets the log grow without end
 * (`CheckpointFallback` in writer.ts).
 */
/// <reference lib="deno.worker" />
import { DatabaseSync } from "node:sqlite";
import type { OpenCheckpointer } from "./writer.ts";

/** A PASSIVE checkpoint that took longer than this copied a backlog. */
const LONG_COPY_MS = 5;

interface CheckpointResult {
  readonly busy: number;
  readonly log: number;
  readonly checkpointed: number;
}

self.onmessage = (event: MessageEvent<OpenCheckpointer>) => {
  self.onmessage = null;
  const { path, everyMs, restartFrames } = event.data;
  const heartbeat = new Int32Array(event.data.heartbeat);
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
    // No busy wait: a lock held elsewhere means "not now", never "hold the writer back".
    db.exec("PRAGMA busy_timeout = 0");
  } catch {
    // The writer worker reports a file it cannot open, and with no heartbeat it checkpoints itself.
    return;
  }
  const passive = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
  const restart = db.prepare("PRAGMA wal_checkpoint(RESTART)");
  setInterval(() => {
    try {
      const started = performance.now();
      let done = passive.get() as unknown as CheckpointResult;
      // A long copy (the backlog a long reader held back): once more, so that the RESTART, which
      // holds the writer's lock while it copies, finds only the last few pages.
      if (performance.now() - started > LONG_COPY_MS) {
        done = passive.get() as unknown as CheckpointResult;
      }
      if (done.log >= restartFrames && done.checkpointed === done.log) restart.get();
    } catch {
      // Not SQLITE_BUSY (that is a result, not an error) but a failing file: no beat, so the
      // writer takes its checkpoints back.
      return;
    }
    Atomics.add(heartbeat, 0, 1);
  }, everyMs);
};
