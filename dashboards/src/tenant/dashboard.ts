/** "Tenant drill-down": one tenant's spend, budget forecast, models and costliest requests. */
import type * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import { dashboardDefaults, withRows } from "../defaults.ts";
import { tenantForecastRow } from "./forecast.ts";
import { tenantModelsRow } from "./models.ts";
import { tenantRequestsRow } from "./requests.ts";
import { tenantSpendRow } from "./spend.ts";
import { tenantVariables } from "./variables.ts";

/** Stable uid: links and bookmarks depend on it. */
export const TENANT_DRILLDOWN_UID = "ict-tenant-drilldown";

/** Builds the tenant drill-down dashboard. */
export function tenantDrilldown(): dashboard.DashboardBuilder {
  const builder = dashboardDefaults(
    "Tenant drill-down",
    TENANT_DRILLDOWN_UID,
    "One tenant: its spend against threshold and budgets, where it is heading, which models it " +
      "uses and its most expensive requests down to the trace.",
  ).variables(tenantVariables());
  return withRows(builder, [
    tenantSpendRow(),
    tenantForecastRow(),
    tenantModelsRow(),
    tenantRequestsRow(),
  ]);
}
