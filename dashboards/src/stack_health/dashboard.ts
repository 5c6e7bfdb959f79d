/** "Stack health": is the observability pipeline itself working. */
import type * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import { dashboardDefaults, withRows } from "../defaults.ts";
import { alertmanagerRow } from "./alertmanager.ts";
import { appProcessRow } from "./app.ts";
import { collectorRow } from "./collector.ts";
import { rulesRow } from "./rules.ts";
import { targetsRow } from "./targets.ts";

/** Stable uid: links and bookmarks depend on it. */
export const STACK_HEALTH_UID = "ict-stack-health";

/** Builds the stack-health dashboard. */
export function stackHealth(): dashboard.DashboardBuilder {
  return withRows(
    dashboardDefaults(
      "Stack health",
      STACK_HEALTH_UID,
      "Whether the pipeline behind the cost dashboards works: scrapes, the app process, the " +
        "collector, rule evaluation and alert delivery. A cost dashboard is only as true as this one is green.",
    ),
    [targetsRow(), appProcessRow(), collectorRow(), rulesRow(), alertmanagerRow()],
  );
}
