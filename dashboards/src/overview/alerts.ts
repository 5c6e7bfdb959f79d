/** Overview row "Active alerts": what Alertmanager holds right now, grouped as it notifies. */
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import { ALERTMANAGER_DATASOURCE_NAME, DATASOURCE, type Row, SIZE } from "../defaults.ts";

/**
 * Grafana's "Alert groups" panel type. The foundation SDK ships no builder for it, so the generic
 * panel builder sets its type and options (alertmanager: the datasource *name*; labels: a matcher
 * list such as `severity=~"warning|critical"`).
 */
export const ALERT_GROUPS_PANEL_TYPE = "alertGroups";

/** The alerts row of the cost overview. */
export function alertsRow(): Row {
  return {
    title: "Active alerts",
    panels: [
      new dashboard.PanelBuilder()
        .type(ALERT_GROUPS_PANEL_TYPE)
        .title("Active alerts")
        .description(
          "Alerts Alertmanager holds now (firing, silenced or inhibited), grouped by alert name " +
            "and tenant as they are notified, read through the Alertmanager datasource. Expand a " +
            "group for its summary, the numbers and the runbook link. Empty is good.",
        )
        .datasource(DATASOURCE.alertmanager)
        .span(SIZE.full)
        .height(SIZE.tableHeight)
        .options({ alertmanager: ALERTMANAGER_DATASOURCE_NAME, expandAll: true, labels: "" }),
    ],
  };
}
