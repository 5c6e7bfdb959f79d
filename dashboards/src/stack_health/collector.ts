/**
 * Stack-health row "Collector": spans in, spans refused, spans out and spans lost, from the
 * collector's own metrics (job otel-collector).
 *
 * Names are those of the pinned collector (stack/versions.env, OTELCOL_VERSION 0.165.0): its
 * Prometheus reader exposes counters without the `_total` suffix, e.g.
 * `otelcol_receiver_accepted_spans`. Jaeger, itself built on the collector, exposes the same
 * counters *with* `_total` under job jaeger; the job matcher keeps the two apart. The e2e test
 * (tests/e2e/dashboards_queries_test.ts) runs every one of these queries against that collector.
 */
import { COLOR, colorSeries, type Row, SIZE, steps, timeseriesPanel, UNIT } from "../defaults.ts";
import { RATE_INTERVAL } from "../promql.ts";

/** The Prometheus job that scrapes the collector's own metrics. */
export const COLLECTOR_JOB = "otel-collector";

/** The collector's span counters, as the pinned release names them. */
export const COLLECTOR_METRIC = {
  receiverAccepted: "otelcol_receiver_accepted_spans",
  receiverRefused: "otelcol_receiver_refused_spans",
  receiverFailed: "otelcol_receiver_failed_spans",
  exporterSent: "otelcol_exporter_sent_spans",
  exporterSendFailed: "otelcol_exporter_send_failed_spans",
  processorIncoming: "otelcol_processor_incoming_items",
  processorOutgoing: "otelcol_processor_outgoing_items",
  exporterQueueSize: "otelcol_exporter_queue_size",
  exporterQueueCapacity: "otelcol_exporter_queue_capacity",
} as const;

function collector(metric: string, ...matchers: string[]): string {
  return `${metric}{${[`job="${COLLECTOR_JOB}"`, ...matchers].join(", ")}}`;
}

function spanRate(metric: string, by: readonly string[], ...matchers: string[]): string {
  const grouping = by.length > 0 ? ` by (${by.join(", ")})` : "";
  return `sum${grouping} (rate(${collector(metric, ...matchers)}[${RATE_INTERVAL}]))`;
}

/** The collector row of the stack-health dashboard. */
export function collectorRow(): Row {
  // Prometheus 3 scrapes with UTF-8 names allowed, so the collector keeps the dotted attribute
  // name `otel.signal` (an older scraper would see `otel_signal`); PromQL quotes such names.
  const traces = '"otel.signal"="traces"';
  return {
    title: "Collector",
    panels: [
      timeseriesPanel({
        title: "Spans received, refused and failed",
        description:
          "Spans per second at the collector's OTLP receiver: accepted into the pipeline, " +
          "refused (the memory_limiter pushing back: the app's exporter retries) and failed " +
          "(internal errors). Refused or failed above zero means traces are at risk.",
        unit: UNIT.spansPerSecond,
        span: SIZE.third,
        queries: [
          { expr: spanRate(COLLECTOR_METRIC.receiverAccepted, []), legend: "accepted" },
          { expr: spanRate(COLLECTOR_METRIC.receiverRefused, []), legend: "refused" },
          { expr: spanRate(COLLECTOR_METRIC.receiverFailed, []), legend: "failed" },
        ],
      })
        .withOverride(colorSeries("^accepted$", COLOR.ok))
        .withOverride(colorSeries("^refused$", COLOR.warn))
        .withOverride(colorSeries("^failed$", COLOR.bad)),
      timeseriesPanel({
        title: "Spans exported and dropped",
        description:
          "Spans per second sent on to Jaeger, and dropped: given up after the exporter's " +
          "retries (otelcol_exporter_send_failed_spans; the collector creates that counter at " +
          "the first failure, so no line is the healthy state). Also: spans a processor took in " +
          "but did not pass on.",
        unit: UNIT.spansPerSecond,
        span: SIZE.third,
        queries: [
          {
            expr: spanRate(COLLECTOR_METRIC.exporterSent, ["exporter"]),
            legend: "sent {{exporter}}",
          },
          {
            expr: spanRate(COLLECTOR_METRIC.exporterSendFailed, ["exporter"]),
            legend: "dropped {{exporter}}",
          },
          {
            expr: `${spanRate(COLLECTOR_METRIC.processorIncoming, ["processor"], traces)} - ${
              spanRate(COLLECTOR_METRIC.processorOutgoing, ["processor"], traces)
            }`,
            legend: "lost in {{processor}}",
          },
        ],
      })
        .withOverride(colorSeries("^sent ", COLOR.ok))
        .withOverride(colorSeries("^(dropped|lost) ", COLOR.bad)),
      timeseriesPanel({
        title: "Exporter queue fill",
        description:
          "How full each exporter's sending queue is. At 100 % new batches are rejected and " +
          "spans are dropped; a queue that keeps filling means Jaeger is slow or down.",
        unit: UNIT.percent,
        span: SIZE.third,
        queries: [{
          expr: `max by (exporter) (${collector(COLLECTOR_METRIC.exporterQueueSize)} / ${
            collector(COLLECTOR_METRIC.exporterQueueCapacity)
          })`,
          legend: "{{exporter}}",
        }],
      })
        .thresholds(steps(COLOR.ok, [0.5, COLOR.warn], [0.9, COLOR.bad]))
        .max(1),
    ],
  };
}
