/**
 * How the page shows numbers, and when a tenant's bar turns amber or red. The page's script
 * (assets/app.js) applies the same rules to live updates; the browser test holds them together.
 */
import { formatUsd, PICO_PER_USD } from "../pricing/money.ts";

/**
 * USD for reading: cents from one dollar up, else four significant digits (costs of single
 * requests are millionths of a dollar). The exact amount goes in a title beside it.
 * @example usdText(6_912_345n) // "$0.000006912"
 */
export function usdText(pico: bigint): string {
  if (pico >= PICO_PER_USD) {
    const cents = (pico + 5_000_000_000n) / 10_000_000_000n;
    const dollars = (cents / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return `$${dollars}.${(cents % 100n).toString().padStart(2, "0")}`;
  }
  const drop = pico.toString().length - 4;
  if (drop <= 0) return `$${formatUsd(pico)}`;
  const unit = 10n ** BigInt(drop);
  return `$${formatUsd((pico + unit / 2n) / unit * unit)}`;
}

/** A count with thousands separators. */
export function countText(n: number): string {
  return n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Where a tenant stands in a window: fine, past its alert threshold or near its budget, or at its budget. */
export type BarState = "ok" | "warn" | "over";

/**
 * The state of a spend against its limits: `over` at or past the budget, or at 80 % of it or more
 * once a budget has refused one of the tenant's requests in the window (reservations of the worst
 * case keep accepted spend at or below a budget, so it seldom lands on it exactly; a refusal far
 * below it was one oversized request, not a spent budget); `warn` at or past the alert threshold
 * or 80 % of the budget; else `ok`.
 */
export function barState(
  spend: bigint,
  alert: bigint | null,
  budget: bigint | null,
  budgetRefusals = 0,
): BarState {
  const near = budget !== null && spend * 10n >= budget * 8n;
  if (budget !== null && spend >= budget) return "over";
  if (near && budgetRefusals > 0) return "over";
  if (alert !== null && spend >= alert) return "warn";
  if (near) return "warn";
  return "ok";
}

/** The full length of a tenant's bar: its budget, else its alert threshold; null for no bar. */
export function barScale(alert: bigint | null, budget: bigint | null): bigint | null {
  return budget ?? alert;
}

/** `HH:MM:SS` in UTC, the zone of every window on the page. */
export function timeText(iso: string): string {
  return iso.slice(11, 19);
}
