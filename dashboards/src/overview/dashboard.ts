/** "LLM cost overview": the dashboard users open first. One module per row, in display order. */
import type * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import { dashboardDefaults, withRows } from "../defaults.ts";
import { alertsRow } from "./alerts.ts";
import { budgetsRow } from "./budgets.ts";
import { ledgerRow } from "./ledger.ts";
import { burnRow } from "./burn.ts";
import { costRow } from "./cost.ts";
import { spendRow } from "./spend.ts";
import { tokensRow } from "./tokens.ts";
import { trafficRow } from "./traffic.ts";

/** Stable uid: links and bookmarks depend on it. */
export const COST_OVERVIEW_UID = "ict-cost-overview";

/** Builds the cost overview dashboard. */
export function costOverview(): dashboard.DashboardBuilder {
  return withRows(
    dashboardDefaults(
      "LLM cost overview",
      COST_OVERVIEW_UID,
      "What LLM inference costs, who spends it, on which models, against thresholds and budgets.",
    ),
    [
      spendRow(),
      burnRow(),
      costRow(),
      tokensRow(),
      trafficRow(),
      budgetsRow(),
      ledgerRow(),
      alertsRow(),
    ],
  );
}
