/** Stack-health row "Prometheus rules": are the cost rules evaluating, and do alerts leave. */
import { COLOR, colorSeries, type Row, SIZE, steps, timeseriesPanel, UNIT } from "../defaults.ts";
import { RATE_INTERVAL } from "../promql.ts";

const PROMETHEUS = 'job="prometheus"';

/** The rules row of the stack-health dashboard. */
export function rulesRow(): Row {
  return {
    title: "Prometheus rules",
    panels: [
      timeseriesPanel({
        title: "Rule evaluation failures",
        description:
          "Failed rule evaluations per second by rule group (the files in alerts/). Any line " +
          "above zero means an alert or recording rule is not being computed: check Prometheus's " +
          "log for the expression error.",
        unit: UNIT.errorsPerSecond,
        span: SIZE.third,
        queries: [{
          expr:
            `sum by (rule_group) (rate(prometheus_rule_evaluation_failures_total{${PROMETHEUS}}[${RATE_INTERVAL}]))`,
          legend: "{{rule_group}}",
        }],
      }).withOverride(colorSeries(".*", COLOR.bad)),
      timeseriesPanel({
        title: "Rule group evaluation time vs interval",
        description:
          "Last evaluation duration of each rule group as a share of its interval. Near 100 % " +
          "evaluations start being skipped and alerts come late.",
        unit: UNIT.percent,
        span: SIZE.third,
        queries: [{
          expr:
            `max by (rule_group) (prometheus_rule_group_last_duration_seconds{${PROMETHEUS}} / ` +
            `prometheus_rule_group_interval_seconds{${PROMETHEUS}})`,
          legend: "{{rule_group}}",
        }],
      }).thresholds(steps(COLOR.ok, [0.5, COLOR.warn], [0.9, COLOR.bad])),
      timeseriesPanel({
        title: "Alerts sent to Alertmanager",
        description:
          "Alert notifications per second Prometheus sent to Alertmanager, and those that failed " +
          "(errors) or were thrown away because the queue was full (dropped).",
        unit: UNIT.notificationsPerSecond,
        span: SIZE.third,
        queries: [
          {
            expr:
              `sum (rate(prometheus_notifications_sent_total{${PROMETHEUS}}[${RATE_INTERVAL}]))`,
            legend: "sent",
          },
          {
            expr:
              `sum (rate(prometheus_notifications_errors_total{${PROMETHEUS}}[${RATE_INTERVAL}]))`,
            legend: "errors",
          },
          {
            expr:
              `sum (rate(prometheus_notifications_dropped_total{${PROMETHEUS}}[${RATE_INTERVAL}]))`,
            legend: "dropped",
          },
        ],
      })
        .withOverride(colorSeries("^sent$", COLOR.ok))
        .withOverride(colorSeries("^(errors|dropped)$", COLOR.bad)),
    ],
  };
}
