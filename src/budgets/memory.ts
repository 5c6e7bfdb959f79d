/**
 * In-process budget store: exact, atomic (one event loop), not shared. Its spend is lost on
 * restart unless seeded from the spend ledger at start-up (`seed`).
 */
import { BUDGET_WINDOWS, type BudgetWindow } from "../tenants/tenants.ts";
import { type BudgetStore, limitedWindows, type Remaining, type ReserveResult } from "./store.ts";
import { windowAt } from "./windows.ts";

/** Builds a budget store that keeps spend in this process's memory. */
export function createMemoryBudgetStore(): BudgetStore {
  // tenant → window key → settled plus reserved picodollars
  const spend = new Map<string, Map<string, bigint>>();
  const add = (tenantId: string, key: string, delta: bigint) => {
    let byKey = spend.get(tenantId);
    if (!byKey) spend.set(tenantId, byKey = new Map());
    // Only the current window of each kind matters; drop older ones so memory stays bounded.
    const kind = key.slice(0, key.indexOf(":") + 1);
    for (const old of byKey.keys()) if (old !== key && old.startsWith(kind)) byKey.delete(old);
    byKey.set(key, (byKey.get(key) ?? 0n) + delta);
  };
  const get = (tenantId: string, key: string) => spend.get(tenantId)?.get(key) ?? 0n;

  return {
    reserve(tenant, amountPico, now): Promise<ReserveResult> {
      const windows = limitedWindows(tenant, now);
      const remaining: Remaining[] = [];
      for (const { span, limitPico } of windows) {
        const spent = get(tenant.id, span.key);
        if (spent + amountPico > limitPico) {
          return Promise.resolve({
            ok: false,
            exceeded: {
              window: span.window,
              limitPico,
              spentPico: spent,
              resetsAt: span.resetsAt,
            },
          });
        }
        remaining.push({
          window: span.window,
          limitPico,
          remainingPico: limitPico - spent - amountPico,
          resetsAt: span.resetsAt,
        });
      }
      for (const { span } of windows) add(tenant.id, span.key, amountPico);
      return Promise.resolve({
        ok: true,
        reservation: { tenantId: tenant.id, amountPico, spans: windows.map((w) => w.span) },
        remaining,
      });
    },
    settle(reservation, actualPico) {
      for (const span of reservation.spans) {
        if (spend.get(reservation.tenantId)?.has(span.key)) {
          add(reservation.tenantId, span.key, actualPico - reservation.amountPico);
        }
      }
      return Promise.resolve();
    },
    spent(tenantId: string, window: BudgetWindow, now: Date) {
      return Promise.resolve(get(tenantId, windowAt(window, now).key));
    },
    close: () => Promise.resolve(),
    seed(seeded, now) {
      for (const [tenantId, windows] of seeded) {
        for (const window of BUDGET_WINDOWS) {
          const key = windowAt(window, now).key;
          const missing = windows[window] - get(tenantId, key);
          if (missing > 0n) add(tenantId, key, missing);
        }
      }
      return Promise.resolve();
    },
  };
}
