/**
 * A request's budgets: the worst case reserved before it runs (429 `budget_exceeded` when a
 * window would be crossed, 503 `budget_unavailable` when the store cannot be reached), and the
 * refusal of a tenant with nothing left, for routes that bill nothing.
 */
import { ApiError } from "../http/errors.ts";
import { formatUsd, picoToUsd } from "../pricing/money.ts";
import { OTHER_TENANT, type Tenant } from "../tenants/tenants.ts";
import {
  type BudgetExceeded,
  limitedWindows,
  type Remaining,
  type Reservation,
} from "../budgets/store.ts";
import type { Services } from "../services.ts";

/**
 * Reserves `amount` (a request's worst case) in every budget window of the tenant, all or
 * nothing; returns the reservation to settle and what remains in each window. Throws
 * `budget_exceeded` (429) with the window, limit, spend and reset time when any window would be
 * crossed.
 */
export async function reserveWorstCase(
  services: Services,
  tenant: Tenant,
  amount: bigint,
  requestId: string,
): Promise<{ reservation: Reservation; remaining: Remaining[] }> {
  let result;
  try {
    result = await services.budgets.reserve(tenant, amount, services.now());
  } catch (error) {
    throw budgetUnavailable(services, requestId, error);
  }
  if (!result.ok) throw budgetExceeded(services, tenant, result.exceeded, amount);
  return { reservation: result.reservation, remaining: result.remaining };
}

/**
 * Refuses a tenant with nothing left in a budget window (429 `budget_exceeded`), for routes that
 * bill nothing and so have no worst case to reserve: a tenant over its budget is refused on every
 * route.
 */
export async function refuseExhausted(services: Services, tenant: Tenant): Promise<void> {
  const now = services.now();
  for (const { span, limitPico } of limitedWindows(tenant, now)) {
    let spentPico: bigint;
    try {
      spentPico = await services.budgets.spent(tenant.id, span.window, now);
    } catch (error) {
      throw budgetUnavailable(services, undefined, error);
    }
    if (spentPico >= limitPico) {
      throw budgetExceeded(services, tenant, {
        window: span.window,
        limitPico,
        spentPico,
        resetsAt: span.resetsAt,
      }, 0n);
    }
  }
}

// A store that cannot be reached (Redis down) fails closed: nothing runs unbudgeted, and the client
// is told to retry rather than shown an internal error.
function budgetUnavailable(
  services: Services,
  requestId: string | undefined,
  error: unknown,
): ApiError {
  services.logger.warn("budget store unavailable", {
    request_id: requestId,
    error: error instanceof Error ? error.message : String(error),
  });
  return new ApiError(
    "budget_unavailable",
    "budgets cannot be checked right now; retry shortly",
    {},
    { "Retry-After": "1" },
  );
}

function budgetExceeded(
  services: Services,
  tenant: Tenant,
  exceeded: BudgetExceeded,
  amount: bigint,
): ApiError {
  const retryAfter = Math.max(
    1,
    Math.ceil((exceeded.resetsAt.getTime() - services.now().getTime()) / 1000),
  );
  return new ApiError(
    "budget_exceeded",
    amount > 0n
      ? `tenant "${tenant.id}" would exceed its ${exceeded.window}ly budget of $${
        formatUsd(exceeded.limitPico)
      } (spent or reserved: $${formatUsd(exceeded.spentPico)}; this request may cost up to $${
        formatUsd(amount)
      })`
      : `tenant "${tenant.id}" has used up its ${exceeded.window}ly budget of $${
        formatUsd(exceeded.limitPico)
      } (spent or reserved: $${formatUsd(exceeded.spentPico)})`,
    {
      scope: tenant.id === OTHER_TENANT ? "tenant:other" : `tenant:${tenant.id}`,
      window: exceeded.window,
      limit_usd: picoToUsd(exceeded.limitPico),
      spent_usd: picoToUsd(exceeded.spentPico),
      resets_at: exceeded.resetsAt.toISOString(),
    },
    { "Retry-After": String(retryAfter) },
  );
}
