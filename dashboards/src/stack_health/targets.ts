/** Stack-health row "Scrape targets": is Prometheus reaching every component, and how heavily. */
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import {
  COLOR,
  type Row,
  SIZE,
  statPanel,
  steps,
  thresholdLines,
  timeseriesPanel,
  UNIT,
} from "../defaults.ts";
import { APP_JOB } from "../promql.ts";

/** The app's scrape `sample_limit` in stack/prometheus/prometheus.yml. */
export const APP_SAMPLE_LIMIT = 50000;

/** The scrape-targets row of the stack-health dashboard. */
export function targetsRow(): Row {
  return {
    title: "Scrape targets",
    panels: [
      statPanel({
        title: "Targets up",
        description:
          "Prometheus's `up` for every scrape target: the app (job inference-cost-tracker), the " +
          "collector, Jaeger, Alertmanager and Prometheus itself. DOWN means the last scrape " +
          "failed — including an app scrape over its sample_limit.",
        unit: UNIT.upDown,
        span: SIZE.full,
        thresholds: steps(COLOR.bad, [1, COLOR.ok]),
        queries: [{ expr: "up", instant: true, legend: "{{job}}" }],
      })
        .colorMode(common.BigValueColorMode.Background)
        .mappings([{
          type: dashboard.MappingType.ValueToText,
          options: {
            "0": { text: "DOWN", color: COLOR.bad, index: 0 },
            "1": { text: "UP", color: COLOR.ok, index: 1 },
          },
        }]),
      timeseriesPanel({
        title: "Scrape duration by job",
        description:
          "How long each scrape takes. Close to the 10 s scrape timeout, the target is " +
          "overloaded or the network slow.",
        unit: UNIT.seconds,
        queries: [{ expr: "max by (job) (scrape_duration_seconds)", legend: "{{job}}" }],
      }),
      thresholdLines(
        timeseriesPanel({
          title: "App samples per scrape vs limit",
          description:
            "Series in each scrape of the app. One series per tenant × model × token kind, so " +
            "growth here is label cardinality growing; at the dashed sample_limit (50 000) the " +
            "scrape fails and the app shows as DOWN.",
          unit: UNIT.samples,
          queries: [{
            expr: `max (scrape_samples_scraped{job="${APP_JOB}"})`,
            legend: "samples per scrape",
          }],
        }),
        steps(COLOR.ok, [APP_SAMPLE_LIMIT * 0.8, COLOR.warn], [APP_SAMPLE_LIMIT, COLOR.bad]),
      ),
    ],
  };
}
