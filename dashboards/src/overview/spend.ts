/** Overview row "Spend": what inference cost over the last hour, day and 30 days, and right now. */
import { type Row, SIZE, statPanel, UNIT } from "../defaults.ts";
import { recordedPerHour, RULE, spendOver } from "../promql.ts";

/** The spend row of the cost overview. */
export function spendRow(): Row {
  return {
    title: "Spend",
    panels: [
      statPanel({
        title: "Spend, last hour",
        description:
          "USD spent on inference in the trailing 60 minutes, all tenants and models: the sum " +
          "over tenants of the recorded hourly spend InferenceCostHigh compares with each " +
          "tenant's threshold (tenant:inference_cost_usd:rate1h × 3600).",
        unit: UNIT.usd,
        queries: [{
          expr: recordedPerHour(RULE.costRate1hByTenant, []),
          instant: true,
          legend: "last hour",
        }],
      }),
      statPanel({
        title: "Spend, last 24 hours",
        description:
          "USD spent in the trailing 24 hours. Shows less than a full day while Prometheus holds " +
          "less than a day of history.",
        unit: UNIT.usd,
        queries: [{ expr: spendOver("1d", []), instant: true, legend: "last 24 hours" }],
      }),
      statPanel({
        title: "Spend, last 30 days",
        description:
          "USD spent in the trailing 30 days (a rolling month; the calendar-month budget is in " +
          "the Budgets row). Limited to the history Prometheus retains (15 days by default).",
        unit: UNIT.usd,
        queries: [{ expr: spendOver("30d", []), instant: true, legend: "last 30 days" }],
      }),
      statPanel({
        title: "Burn rate now",
        description: "Current spend expressed per hour: the recorded 5-minute rate times 3600. " +
          "Compare with the hourly figure to see whether spend is speeding up.",
        unit: UNIT.usd,
        span: SIZE.quarter,
        queries: [{
          expr: recordedPerHour(RULE.costRate5mByTenant, []),
          instant: true,
          legend: "USD per hour",
        }],
      }),
    ],
  };
}
