/** Overview row "Budgets": how much of each tenant's hard budget is left in the current window. */
import { barGaugePanel, COLOR, type Row, SIZE, steps, timeseriesPanel, UNIT } from "../defaults.ts";
import { budgetLimit, budgetSpent, RULE } from "../promql.ts";

/** The budgets row of the cost overview. */
export function budgetsRow(): Row {
  return {
    title: "Budgets",
    panels: [
      barGaugePanel({
        title: "Remaining budget",
        description:
          "inference_budget_limit_usd − inference_budget_spent_usd for each tenant and calendar " +
          "window (hour, day, month; UTC), never below zero: the budget alerts' " +
          "tenant_window:inference_budget_remaining_usd:max. Spent includes reservations of " +
          "requests in flight. At zero the app answers 429 budget_exceeded until the window " +
          "resets. Only tenants with a budget in the tenants file appear.",
        unit: UNIT.usd,
        span: SIZE.third,
        thresholds: steps(COLOR.bad, [0.01, COLOR.warn], [1, COLOR.ok]),
        queries: [{
          expr: RULE.budgetRemaining,
          instant: true,
          legend: "{{tenant}} / {{window}}",
        }],
      }),
      barGaugePanel({
        title: "Budget used",
        description:
          "Spent as a share of the limit for each tenant and window. Orange from 80 %, red from " +
          "95 %: requests start failing with budget_exceeded at 100 %.",
        unit: UNIT.percent,
        span: SIZE.third,
        thresholds: steps(COLOR.ok, [0.8, COLOR.warn], [0.95, COLOR.bad]),
        queries: [{
          expr: `${budgetSpent()} / ${budgetLimit()}`,
          instant: true,
          legend: "{{tenant}} / {{window}}",
        }],
      }).max(1),
      timeseriesPanel({
        title: "Budget spent over time",
        description:
          "inference_budget_spent_usd per tenant and window: a saw-tooth that drops to zero when " +
          "the calendar window resets.",
        unit: UNIT.usd,
        span: SIZE.third,
        queries: [{ expr: budgetSpent(), legend: "{{tenant}} / {{window}}" }],
      }),
    ],
  };
}
