/** Overview row "Cost breakdown": where the money goes, by model and by tenant, and per request. */
import {
  barGaugePanel,
  COLOR,
  type Row,
  SIZE,
  stacked,
  steps,
  thresholdLines,
  timeseriesPanel,
  UNIT,
} from "../defaults.ts";
import {
  alertedCostPerRequestP95,
  costPerRequestQuantile,
  recordedPerHour,
  RULE,
  spendOver,
} from "../promql.ts";

/** The reference alert InferenceCostPerRequestSpike fires when p95 cost per request exceeds this. */
export const COST_PER_REQUEST_ALERT_USD = 0.10;

/** The cost breakdown row of the cost overview. */
export function costRow(): Row {
  return {
    title: "Cost breakdown",
    panels: [
      stacked(timeseriesPanel({
        title: "Cost by model",
        description:
          "Spend per hour for each model (recorded 5-minute rate × 3600), stacked: the " +
          "top edge is the total. A band that suddenly widens is a model taking traffic it should " +
          "not (for example mini traffic routed to the expensive model).",
        unit: UNIT.usd,
        queries: [{
          expr: recordedPerHour(RULE.costRate5mByTenantModel, ["model"]),
          legend: "{{model}}",
        }],
      })),
      stacked(timeseriesPanel({
        title: "Cost by tenant",
        description:
          "Spend per hour for each tenant (recorded 5-minute rate × 3600), stacked. Tenants the " +
          "app does not know are billed as `other`.",
        unit: UNIT.usd,
        queries: [{
          expr: recordedPerHour(RULE.costRate5mByTenant, ["tenant"]),
          legend: "{{tenant}}",
        }],
      })),
      thresholdLines(
        timeseriesPanel({
          title: "Cost per request p50 / p95 by model",
          description:
            "Cost of one request per model from the inference_cost_per_request_usd histogram " +
            "(interpolated within its buckets): the median over Grafana's rate window, and the " +
            "p95 over 15 minutes that InferenceCostPerRequestSpike watches " +
            "(model:inference_cost_per_request_usd:p95_rate15m); the dashed red line is its " +
            "$0.10 limit. Dots are exemplars: single requests at their exact cost with their " +
            "trace_id; click one and choose the Jaeger link to open that request's trace.",
          unit: UNIT.usd,
          span: SIZE.full - SIZE.third,
          queries: [
            // Exemplars hang on the raw bucket series, so the raw query asks for them.
            { expr: costPerRequestQuantile(0.5), legend: "p50 {{model}}", exemplar: true },
            { expr: alertedCostPerRequestP95(), legend: "p95 (15m) {{model}}" },
          ],
        }),
        steps(COLOR.ok, [COST_PER_REQUEST_ALERT_USD, COLOR.bad]),
      ),
      barGaugePanel({
        title: "Top models by spend (time range)",
        description:
          "The five models that cost the most over the dashboard's time range (increase over " +
          "$__range), most expensive first.",
        unit: UNIT.usd,
        span: SIZE.third,
        queries: [{
          expr: `topk(5, ${spendOver("$__range", ["model"])})`,
          instant: true,
          legend: "{{model}}",
        }],
      }),
    ],
  };
}
