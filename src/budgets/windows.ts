/** Calendar budget windows in UTC: which window an instant falls in and when it resets. */
import type { BudgetWindow } from "../tenants/tenants.ts";

/** The window containing `now`: a stable key and the instant it ends. */
export interface WindowSpan {
  readonly window: BudgetWindow;
  /** e.g. `hour:2026-11-25T14`, `day:2026-11-25`, `month:2026-11`. */
  readonly key: string;
  readonly resetsAt: Date;
}

/** The calendar window of kind `window` that contains `now` (UTC). */
export function windowAt(window: BudgetWindow, now: Date): WindowSpan {
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
