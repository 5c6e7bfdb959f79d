/** Calendar budget windows in UTC: which window an instant falls in and when it resets. */
import type { BudgetWindow } from "../tenants/tenants.ts";

/** The window containing `now`: a stable key and the instant it ends. */
export interface WindowSpan {
  readonly window: BudgetWindow;
  /** e.g. `hour:2026-11-25T14`, `day:2026-11-25`, `month:2026-11`. */
  readonly key: string;
  /** Shared by every caller in the same hour: read it, never change it. */
  readonly resetsAt: Date;
}

const HOUR_MS = 3_600_000;

/**
 * The span of each kind last asked for, with its hour: every window starts and ends on an hour
 * (UTC), so every instant of that hour has the same span. A budgeted request asks for one to three
 * of them, and building one (an ISO string, two dates) cost more than the rest of the budget check.
 */
const lastSpans = new Map<BudgetWindow, { readonly hour: number; readonly span: WindowSpan }>();

/** The calendar window of kind `window` that contains `now` (UTC). */
export function windowAt(window: BudgetWindow, now: Date): WindowSpan {
  const hour = Math.floor(now.getTime() / HOUR_MS);
  const last = lastSpans.get(window);
  if (last !== undefined && last.hour === hour) return last.span;
  const span = spanAt(window, now);
  lastSpans.set(window, { hour, span });
  return span;
}

function spanAt(window: BudgetWindow, now: Date): WindowSpan {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  const iso = now.toISOString();
  switch (window) {
    case "hour":
      return {
        window,
        key: `hour:${iso.slice(0, 13)}`,
        resetsAt: new Date(Date.UTC(y, m, d, now.getUTCHours() + 1)),
      };
    case "day":
      return { window, key: `day:${iso.slice(0, 10)}`, resetsAt: new Date(Date.UTC(y, m, d + 1)) };
    case "month":
      return { window, key: `month:${iso.slice(0, 7)}`, resetsAt: new Date(Date.UTC(y, m + 1, 1)) };
  }
}
