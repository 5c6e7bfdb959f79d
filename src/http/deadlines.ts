/**
 * Coarse deadlines shared by every request body being read. A timer per body costs a
 * `setTimeout`/`clearTimeout` pair on every request (Deno's timers are Node-style `Timeout`
 * objects on a timer list: 8–10 % of `/v1/inference` in a profile), although nearly every body
 * arrives at once and the deadline only exists to stop a client trickling one in. Here one
 * interval sweeps the pending deadlines every {@link SWEEP_MS} while any are pending: a deadline
 * fires at its time or up to one sweep later, never earlier.
 */

/** How often pending deadlines are checked; the most a deadline can fire late. */
export const SWEEP_MS = 50;

/** One registered deadline; pass it to {@link clearDeadline} once the work is done. */
export interface Deadline {
  readonly at: number;
  readonly onExpire: () => void;
}

const pending = new Set<Deadline>();
let sweeper: ReturnType<typeof setInterval> | undefined;

function sweep(): void {
  if (pending.size === 0) {
    // Idle for a whole sweep: stop until the next deadline. Stopping only now, not whenever the
    // set empties, keeps the interval alive across back-to-back requests.
    clearInterval(sweeper);
    sweeper = undefined;
    return;
  }
  const now = performance.now();
  for (const deadline of pending) {
    if (deadline.at <= now) {
      pending.delete(deadline);
      deadline.onExpire();
    }
  }
}

/** Calls `onExpire` once, `ms` from now (at most {@link SWEEP_MS} later), unless cleared first. */
export function setDeadline(ms: number, onExpire: () => void): Deadline {
  const deadline = { at: performance.now() + ms, onExpire };
  pending.add(deadline);
  if (sweeper === undefined) {
    const interval = setInterval(sweep, SWEEP_MS);
    // A pending body keeps its connection (and so the process) alive; the sweep itself need not.
    Deno.unrefTimer(interval);
    sweeper = interval;
  }
  return deadline;
}

/** Cancels a deadline; clearing one that already fired or was cleared does nothing. */
export function clearDeadline(deadline: Deadline): void {
  pending.delete(deadline);
}
