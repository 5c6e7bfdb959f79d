/** Retention: rows older than LEDGER_RETENTION_DAYS are deleted, at start and then hourly. */
import type { LedgerOptions } from "./types.ts";
import { pruneRows } from "./queries.ts";
import type { SqlDb } from "./sqlite.ts";

/** How often retention runs while the server is up. */
export const PRUNE_INTERVAL_MS = 3_600_000;

/**
 * Runs retention over `db` once soon after start and then hourly, when a retention period is set;
 * `prune` is also callable directly (it deletes nothing without a period). Failures are logged,
 * and the next run tries again.
 */
export function scheduleRetention(
  options: LedgerOptions,
  db: SqlDb,
): { prune: (nowMs: number) => Promise<number>; stop: () => void } {
  const days = options.retentionDays;
  const prune = (nowMs: number) =>
    days === undefined ? Promise.resolve(0) : pruneRows(db, days, nowMs);
  if (options.retentionDays === undefined || options.readOnly) {
    return { prune, stop: () => {} };
  }
  const now = options.now ?? Date.now;
  const tick = () => {
    prune(now()).then(
      (deleted) => {
        if (deleted > 0) {
          options.logger?.info("ledger retention", {
            deleted,
            retention_days: options.retentionDays,
          });
        }
      },
      (error) => options.logger?.warn("ledger retention failed", { error: String(error) }),
    );
  };
  const first = setTimeout(tick, 0);
  const interval = setInterval(tick, PRUNE_INTERVAL_MS);
  // Retention must never keep a finished process alive.
  Deno.unrefTimer(first);
  Deno.unrefTimer(interval);
  return {
    prune,
    stop() {
      clearTimeout(first);
      clearInterval(interval);
    },
  };
}
