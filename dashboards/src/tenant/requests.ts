/**
 * Drill-down row "Requests": the tenant's outcomes, its most expensive single requests (exemplars
 * on the cost histogram) and its recent traces in Jaeger.
 */
import {
  COLOR,
  colorSeries,
  DATASOURCE,
  type Row,
  SIZE,
  stacked,
  tablePanel,
  timeseriesPanel,
  UNIT,
} from "../defaults.ts";
import { APP_SERVICE, JaegerSearchBuilder } from "../jaeger.ts";
import {
  alertedCostPerRequestP95,
  app,
  costPerRequestQuantile,
  METRIC,
  RATE_INTERVAL,
} from "../promql.ts";
import { ATTR, SPAN_NAME } from "../../../src/telemetry/names.ts";
import { MODELS, TENANT } from "./variables.ts";

/** The requests row of the tenant drill-down. */
export function tenantRequestsRow(): Row {
  return {
    title: "Requests",
    panels: [
      stacked(timeseriesPanel({
        title: "Requests by status",
        description:
          "The tenant's requests per second on the selected models, by outcome. budget_exceeded " +
          "means its budget ran out; rate_limited, its per-minute limit.",
        unit: UNIT.requestsPerSecond,
        queries: [{
          expr: `sum by (status) (rate(${
            app(METRIC.requestsTotal, TENANT, MODELS)
          }[${RATE_INTERVAL}]))`,
          legend: "{{status}}",
        }],
      })).withOverride(colorSeries("^ok$", COLOR.ok)),
      timeseriesPanel({
        title: "Most expensive requests (exemplars)",
        description:
          "p99 cost per request of the selected models over Grafana's rate window and the " +
          "15-minute p95 InferenceCostPerRequestSpike watches, with exemplars: each dot is one " +
          "real request at its exact cost, the highest dots are the most expensive requests. " +
          "Click a dot, then the Jaeger link, to open its trace. The cost histogram is labelled " +
          "by model only (to bound cardinality), so dots may belong to other tenants on the same " +
          "model: the trace's inference.tenant attribute says whose it is; the table below lists " +
          "this tenant's traces only.",
        unit: UNIT.usd,
        queries: [
          { expr: costPerRequestQuantile(0.99, MODELS), legend: "p99 {{model}}", exemplar: true },
          { expr: alertedCostPerRequestP95(MODELS), legend: "p95 (15m) {{model}}" },
        ],
      }),
      tablePanel({
        title: "Recent traces of this tenant",
        description:
          `The tenant's latest ${SPAN_NAME} spans in Jaeger (search by the ${ATTR.tenant} ` +
          "attribute). Open a trace for its cost (inference.cost_usd), tokens and model. Duration " +
          "in milliseconds.",
        unit: UNIT.milliseconds,
        span: SIZE.full,
      })
        .datasource(DATASOURCE.jaeger)
        .withTarget(
          new JaegerSearchBuilder(APP_SERVICE)
            .operation(SPAN_NAME)
            .tags(`${ATTR.tenant}="$tenant"`)
            .limit(20),
        ),
    ],
  };
}
