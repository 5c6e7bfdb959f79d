/** Stack-health row "Alertmanager": alerts held, notifications delivered and failed. */
import { COLOR, colorSeries, type Row, SIZE, stacked, timeseriesPanel, UNIT } from "../defaults.ts";
import { RATE_INTERVAL } from "../promql.ts";

/**
 * The integrations stack/alertmanager/alertmanager.yml can route to: the webhook receiver, and
 * Slack and email when configured. Alertmanager exports a zero series for every integration it
 * knows, so the panels keep to these.
 */
export const NOTIFY_INTEGRATIONS = 'integration=~"webhook|slack|email"';

const ALERTMANAGER = 'job="alertmanager"';

/** The Alertmanager row of the stack-health dashboard. */
export function alertmanagerRow(): Row {
  return {
    title: "Alertmanager",
    panels: [
      stacked(timeseriesPanel({
        title: "Alerts held by state",
        description:
          "Alerts Alertmanager holds: active (being notified), suppressed (silenced or " +
          "inhibited, e.g. a tenant's warning while its critical budget alert fires) and " +
          "unprocessed.",
        unit: UNIT.alerts,
        span: SIZE.third,
        queries: [{
          expr: `sum by (state) (alertmanager_alerts{${ALERTMANAGER}})`,
          legend: "{{state}}",
        }],
      })),
      timeseriesPanel({
        title: "Notifications sent",
        description:
          "Notifications per second Alertmanager attempted, by integration (webhook, Slack, " +
          "email).",
        unit: UNIT.notificationsPerSecond,
        span: SIZE.third,
        queries: [{
          expr:
            `sum by (integration) (rate(alertmanager_notifications_total{${ALERTMANAGER}, ${NOTIFY_INTEGRATIONS}}[${RATE_INTERVAL}]))`,
          legend: "{{integration}}",
        }],
      }).withOverride(colorSeries(".*", COLOR.ok)),
      timeseriesPanel({
        title: "Notifications failed",
        description:
          "Notifications per second that failed, by integration and reason (clientError, " +
          "serverError, contextDeadlineExceeded, ...). Failures are retried until the next " +
          "group interval; a steady line means a receiver is unreachable or misconfigured.",
        unit: UNIT.notificationsPerSecond,
        span: SIZE.third,
        queries: [{
          expr:
            `sum by (integration) (rate(alertmanager_notifications_failed_total{${ALERTMANAGER}, ${NOTIFY_INTEGRATIONS}}[${RATE_INTERVAL}]))`,
          legend: "{{integration}}",
        }],
      }).withOverride(colorSeries(".*", COLOR.bad)),
    ],
  };
}
