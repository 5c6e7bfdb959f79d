/** Overview row "Burn rate": each tenant's hourly spend against its alert threshold. */
import { barGaugePanel, COLOR, type Row, SIZE, steps, timeseriesPanel, UNIT } from "../defaults.ts";
import { hourlyBurnByTenant, RULE, thresholdByTenant } from "../promql.ts";

/** InferenceSpendAnomaly fires at this multiple of the tenant's own 1-day average. */
export const ANOMALY_FACTOR = 3;

/** The burn-rate row of the cost overview. */
export function burnRow(): Row {
  return {
    title: "Burn rate",
    panels: [
      timeseriesPanel({
        title: "Hourly burn per tenant vs threshold",
        description: "Solid lines: each tenant's spend over the trailing hour " +
          "(tenant:inference_cost_usd:rate1h × 3600), the quantity the InferenceCostHigh alert " +
          "watches. Dashed lines: that tenant's hourly threshold, the default tenant's for " +
          "tenants without one (tenant:inference_cost_alert_threshold_usd:max_or_default). A " +
          "solid line above its dashed line for 5 minutes fires the alert.",
        unit: UNIT.usd,
        span: SIZE.half,
        queries: [
          { expr: hourlyBurnByTenant(), legend: "{{tenant}}" },
          { expr: thresholdByTenant(), legend: "{{tenant}} threshold" },
        ],
      })
        .overrideByRegexp(".* threshold$", [
          { id: "custom.lineStyle", value: { fill: "dash", dash: [10, 10] } },
          { id: "custom.fillOpacity", value: 0 },
        ]),
      barGaugePanel({
        title: "Hourly burn as share of threshold",
        description:
          "Each tenant's trailing-hour spend divided by its hourly threshold. Orange from 80 %, " +
          "red at 100 % and above: where InferenceCostHigh fires (after 5 minutes).",
        unit: UNIT.percent,
        span: SIZE.quarter,
        thresholds: steps(COLOR.ok, [0.8, COLOR.warn], [1, COLOR.bad]),
        queries: [{
          expr: `${hourlyBurnByTenant()} / on (tenant) ${thresholdByTenant()}`,
          instant: true,
          legend: "{{tenant}}",
        }],
      }).max(1),
      barGaugePanel({
        title: "Spend vs own baseline",
        description:
          "Each tenant's burn over the last 30 minutes as a multiple of its average hourly burn " +
          "over the last day (tenant:inference_cost_usd:rate30m / " +
          "tenant:inference_cost_usd:rate1h_avg1d). InferenceSpendAnomaly fires at 3× (and at " +
          "least $1/hour, with 6 hours of history) even below the fixed threshold.",
        unit: UNIT.multiple,
        span: SIZE.quarter,
        thresholds: steps(COLOR.ok, [2, COLOR.warn], [ANOMALY_FACTOR, COLOR.bad]),
        queries: [{
          expr: `${RULE.costRate30mByTenant} / on (tenant) ${RULE.costRate1hAvg1dByTenant}`,
          instant: true,
          legend: "{{tenant}}",
        }],
      }).max(2 * ANOMALY_FACTOR),
    ],
  };
}
