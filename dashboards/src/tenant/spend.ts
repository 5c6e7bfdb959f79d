/** Drill-down row "Spend": the tenant's spend and its hourly burn against its threshold. */
import { COLOR, type Row, SIZE, statPanel, steps, timeseriesPanel, UNIT } from "../defaults.ts";
import {
  hourlyBurnByTenant,
  recordedPerHour,
  RULE,
  selector,
  spendOver,
  thresholdByTenant,
} from "../promql.ts";
import { ANOMALY_FACTOR } from "../overview/burn.ts";
import { MODELS, TENANT } from "./variables.ts";

/** The spend row of the tenant drill-down. */
export function tenantSpendRow(): Row {
  return {
    title: "Spend",
    panels: [
      statPanel({
        title: "Spend, last hour",
        description: "USD this tenant spent on the selected models in the trailing 60 minutes " +
          "(tenant_model:inference_cost_usd:rate1h × 3600).",
        unit: UNIT.usd,
        queries: [{
          expr: recordedPerHour(RULE.costRate1hByTenantModel, [], TENANT, MODELS),
          instant: true,
          legend: "last hour",
        }],
      }),
      statPanel({
        title: "Spend, last 24 hours",
        description: "USD this tenant spent on the selected models in the trailing 24 hours.",
        unit: UNIT.usd,
        queries: [{ expr: spendOver("1d", [], TENANT, MODELS), instant: true, legend: "last day" }],
      }),
      statPanel({
        title: "Spend, time range",
        description:
          "USD this tenant spent on the selected models over the dashboard's time range.",
        unit: UNIT.usd,
        queries: [{
          expr: spendOver("$__range", [], TENANT, MODELS),
          instant: true,
          legend: "time range",
        }],
      }),
      statPanel({
        title: "Hourly threshold",
        description:
          "The tenant's hourly alert threshold (inference_cost_alert_threshold_usd; the default " +
          "tenant's for `other`). InferenceCostHigh fires when the trailing-hour spend (all " +
          "models) stays above it for 5 minutes.",
        unit: UNIT.usd,
        thresholds: steps(COLOR.neutral),
        queries: [{ expr: thresholdByTenant(TENANT), instant: true, legend: "threshold" }],
      }),
      timeseriesPanel({
        title: "Hourly burn vs threshold",
        description:
          "The tenant's trailing-hour spend, all models (tenant:inference_cost_usd:rate1h × " +
          "3600), against its hourly threshold (dashed). Above the dashed line for 5 minutes, " +
          "InferenceCostHigh fires.",
        unit: UNIT.usd,
        span: SIZE.half,
        queries: [
          { expr: hourlyBurnByTenant(TENANT), legend: "spend over the last hour" },
          { expr: thresholdByTenant(TENANT), legend: "threshold" },
        ],
      }).overrideByName("threshold", [
        { id: "custom.lineStyle", value: { fill: "dash", dash: [10, 10] } },
        { id: "custom.fillOpacity", value: 0 },
        { id: "color", value: { mode: "fixed", fixedColor: COLOR.bad } },
      ]),
      timeseriesPanel({
        title: "Burn vs own baseline",
        description:
          "The tenant's burn over the last 30 minutes (USD per hour) against 3× its average " +
          "hourly burn over the last day (dashed): above the dashed line for 15 minutes, and at " +
          "least $1/hour with 6 hours of history, InferenceSpendAnomaly fires — a surge for this " +
          "tenant even while under its fixed threshold.",
        unit: UNIT.usd,
        span: SIZE.half,
        queries: [
          {
            expr: `${selector(RULE.costRate30mByTenant, [TENANT])} * 3600`,
            legend: "burn over the last 30 minutes",
          },
          {
            expr: `${ANOMALY_FACTOR} * ${selector(RULE.costRate1hAvg1dByTenant, [TENANT])} * 3600`,
            legend: "anomaly line",
          },
        ],
      }).overrideByName("anomaly line", [
        { id: "custom.lineStyle", value: { fill: "dash", dash: [10, 10] } },
        { id: "custom.fillOpacity", value: 0 },
        { id: "color", value: { mode: "fixed", fixedColor: COLOR.warn } },
      ]),
    ],
  };
}
