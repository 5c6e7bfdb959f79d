/**
 * Budgets by reservation: before a model runs its worst-case cost is reserved in every window the
 * tenant has a limit for; afterwards the reservation is settled to the actual cost. Accepted spend
 * (settled plus still reserved) therefore never exceeds a limit, however many requests race.
 */
import type { BudgetWindow, Tenant } from "../tenants/tenants.ts";
import { BUDGET_WINDOWS } from "../tenants/tenants.ts";
import { windowAt, type WindowSpan } from "./windows.ts";

/** A granted reservation, to be settled exactly once. */
export interface Reservation {
  readonly tenantId: string;
  readonly amountPico: bigint;
  readonly spans: readonly WindowSpan[];
}

/** Why a reservation was refused: the first window whose limit it would cross. */
export interface BudgetExceeded {
  readonly window: BudgetWindow;
  readonly limitPico: bigint;
  /** Settled plus reserved spend in the window when the request arrived. */
  readonly spentPico: bigint;
  readonly resetsAt: Date;
}

/** Remaining budget per limited window after a reservation. */
export interface Remaining {
  readonly window: BudgetWindow;
  readonly limitPico: bigint;
  readonly remainingPico: bigint;
  readonly resetsAt: Date;
}

/** The result of {@link BudgetStore.reserve}. */
export type ReserveResult =
  | { readonly ok: true; readonly reservation: Reservation; readonly remaining: Remaining[] }
  | { readonly ok: false; readonly exceeded: BudgetExceeded };

/** Where budget state lives: this process (memory) or shared across replicas (Redis). */
export interface BudgetStore {
  /** Reserves `amountPico` in each limited window of the tenant, all or nothing. */
  reserve(tenant: Tenant, amountPico: bigint, now: Date): Promise<ReserveResult>;
  /** Replaces a reservation with the actual cost (0 for a request that cost nothing). */
  settle(reservation: Reservation, actualPico: bigint): Promise<void>;
  /** Settled plus reserved spend of a tenant in the window containing `now`. */
  spent(tenantId: string, window: BudgetWindow, now: Date): Promise<bigint>;
  /** Releases connections; the memory store has none. */
  close(): Promise<void>;
  /**
   * Raises each tenant's spend in the windows containing `now` to at least what the spend ledger
   * recorded in them (never lowers it), so a restart never refills a budget: the memory store
   * starts empty and takes the ledger's spend; a Redis that lost its data (restarted without
   * persistence, flushed) gets it back, and one that kept it is left as it is — its spend,
   * reservations in flight included, is already at least the ledger's. Idempotent, so every
   * replica may run it at start-up.
   */
  seed(
    spend: ReadonlyMap<string, Readonly<Record<BudgetWindow, bigint>>>,
    now: Date,
  ): Promise<void>;
}

/** The windows a tenant has limits in, with their current spans. */
export function limitedWindows(
  tenant: Tenant,
  now: Date,
): { span: WindowSpan; limitPico: bigint }[] {
  const out: { span: WindowSpan; limitPico: bigint }[] = [];
  for (const window of BUDGET_WINDOWS) {
    const limitPico = tenant.budgetsPico[window];
    if (limitPico !== undefined) out.push({ span: windowAt(window, now), limitPico });
  }
  return out;
}
