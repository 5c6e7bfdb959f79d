/**
 * Drill-down row "Budget forecast": where the tenant's spend lands at the end of each budget
 * window if it keeps burning as it does, and whether the budget outlasts the window — the
 * numbers the budget alerts (alerts/budget.rules.yml) watch.
 */
import * as common from "@grafana/grafana-foundation-sdk/common";
import { barGaugePanel, COLOR, type Row, SIZE, steps, timeseriesPanel, UNIT } from "../defaults.ts";
import { budgetLimit, budgetSpent, RULE, selector } from "../promql.ts";
import { TENANT } from "./variables.ts";

/**
 * Spent so far plus the last hour's burn carried to the end of each window (hour, day, month;
 * UTC), one series per window, for the tenant `tenant` selects. Budgets count every model, so
 * the model variable does not apply.
 */
export function forecastAtWindowEnd(tenant: string = TENANT): string {
  const burnPerSecond = `scalar(sum (${selector(RULE.costRate1hByTenant, [tenant])}))`;
  return `${budgetSpent(tenant)} + on (window) group_left () ` +
    `(${burnPerSecond} * ${RULE.budgetResetSeconds})`;
}

/** The forecast row of the tenant drill-down. */
export function tenantForecastRow(): Row {
  return {
    title: "Budget forecast",
    panels: [
      barGaugePanel({
        title: "Forecast at window end",
        description:
          "Budget spent so far plus the last hour's burn rate carried to the end of each calendar " +
          "window (UTC): what the window will have cost if nothing changes. Only windows with a " +
          "budget in the tenants file appear.",
        unit: UNIT.usd,
        span: SIZE.quarter,
        queries: [{ expr: forecastAtWindowEnd(), instant: true, legend: "{{window}}" }],
      }),
      barGaugePanel({
        title: "Forecast as share of budget",
        description:
          "The forecast divided by the window's limit. Red at 100 %: at this burn the tenant runs " +
          "out of budget before the window resets, and its requests will be refused with 429 " +
          "budget_exceeded.",
        unit: UNIT.percent,
        span: SIZE.quarter,
        thresholds: steps(COLOR.ok, [0.8, COLOR.warn], [1, COLOR.bad]),
        queries: [{
          expr: `(${forecastAtWindowEnd()}) / ${budgetLimit(TENANT)}`,
          instant: true,
          legend: "{{window}}",
        }],
      }).max(1),
      timeseriesPanel({
        title: "Budget runs out in vs window resets in",
        description:
          "Solid: time until the budget left is spent at the burn of the last 5 minutes, hour and " +
          "6 hours (tenant_window:inference_budget_exhaustion_seconds:*; no line while the " +
          "tenant spends nothing). Dashed: time until the window starts over. A solid line under " +
          "its window's dashed line means the budget runs out first: InferenceBudgetExhaustionSoon " +
          "fires when the 5-minute and 1-hour lines are both under an hour, " +
          "InferenceBudgetExhaustionForecast when the 1-hour and 6-hour lines are. Log scale.",
        unit: UNIT.seconds,
        span: SIZE.half,
        queries: [
          { expr: selector(RULE.budgetExhaustion5m, [TENANT]), legend: "{{window}} at 5m burn" },
          { expr: selector(RULE.budgetExhaustion1h, [TENANT]), legend: "{{window}} at 1h burn" },
          { expr: selector(RULE.budgetExhaustion6h, [TENANT]), legend: "{{window}} at 6h burn" },
          {
            // Only the windows this tenant has a budget for.
            expr: `${RULE.budgetResetSeconds} and on (window) ${budgetLimit(TENANT)}`,
            legend: "{{window}} resets",
          },
        ],
      })
        .axisSoftMin(1)
        .scaleDistribution(
          new common.ScaleDistributionConfigBuilder().type(common.ScaleDistribution.Log).log(10),
        )
        .overrideByRegexp(".* resets$", [
          { id: "custom.lineStyle", value: { fill: "dash", dash: [10, 10] } },
          { id: "custom.fillOpacity", value: 0 },
        ]),
    ],
  };
}
