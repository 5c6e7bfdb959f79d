/** Drill-down row "Models": which models the tenant's money goes to. */
import { barGaugePanel, type Row, SIZE, stacked, timeseriesPanel, UNIT } from "../defaults.ts";
import { app, METRIC, RATE_INTERVAL, recordedPerHour, RULE, spendOver } from "../promql.ts";
import { MODELS, TENANT } from "./variables.ts";

/** The models row of the tenant drill-down. */
export function tenantModelsRow(): Row {
  const tokens = (metric: string) =>
    `sum by (model) (rate(${app(metric, TENANT, MODELS)}[${RATE_INTERVAL}]))`;
  return {
    title: "Models",
    panels: [
      barGaugePanel({
        title: "Top models by spend",
        description:
          "The tenant's five most expensive models over the dashboard's time range, most " +
          "expensive first.",
        unit: UNIT.usd,
        span: SIZE.third,
        queries: [{
          expr: `topk(5, ${spendOver("$__range", ["model"], TENANT, MODELS)})`,
          instant: true,
          legend: "{{model}}",
        }],
      }),
      stacked(timeseriesPanel({
        title: "Cost by model",
        description:
          "The tenant's spend per hour for each selected model (recorded 5-minute rate × 3600), " +
          "stacked.",
        unit: UNIT.usd,
        span: SIZE.third,
        queries: [{
          expr: recordedPerHour(RULE.costRate5mByTenantModel, ["model"], TENANT, MODELS),
          legend: "{{model}}",
        }],
      })),
      timeseriesPanel({
        title: "Tokens by model",
        description: "The tenant's input and output tokens per second for each selected model.",
        unit: UNIT.tokensPerSecond,
        span: SIZE.third,
        queries: [
          { expr: tokens(METRIC.inputTokensTotal), legend: "in {{model}}" },
          { expr: tokens(METRIC.outputTokensTotal), legend: "out {{model}}" },
        ],
      }),
    ],
  };
}
