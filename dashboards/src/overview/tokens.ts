/** Overview row "Tokens": the volume behind the cost — input, output and cached input tokens. */
import { COLOR, colorSeries, type Row, timeseriesPanel, UNIT } from "../defaults.ts";
import { app, METRIC, RATE_INTERVAL } from "../promql.ts";

function tokenRate(metric: string, by: readonly string[]): string {
  const grouping = by.length > 0 ? ` by (${by.join(", ")})` : "";
  return `sum${grouping} (rate(${app(metric)}[${RATE_INTERVAL}]))`;
}

/** The tokens row of the cost overview. */
export function tokensRow(): Row {
  return {
    title: "Tokens",
    panels: [
      timeseriesPanel({
        title: "Input, output and cached tokens",
        description:
          "Tokens per second across all tenants. Cached input tokens are the part of the input " +
          "read from the provider's prompt cache (billed at the cached price); they are counted " +
          "only when a provider reports them, so the simulated backend shows none.",
        unit: UNIT.tokensPerSecond,
        queries: [
          { expr: tokenRate(METRIC.inputTokensTotal, []), legend: "input" },
          { expr: tokenRate(METRIC.outputTokensTotal, []), legend: "output" },
          { expr: tokenRate(METRIC.cachedInputTokensTotal, []), legend: "cached input" },
        ],
      })
        .withOverride(colorSeries("^input$", COLOR.info))
        .withOverride(colorSeries("^output$", COLOR.warn))
        .withOverride(colorSeries("^cached input$", COLOR.ok)),
      timeseriesPanel({
        title: "Tokens by model",
        description:
          "Input and output tokens per second for each model. Output tokens usually cost 4–5× " +
          "input tokens, so a model whose output line grows drives cost fastest.",
        unit: UNIT.tokensPerSecond,
        queries: [
          { expr: tokenRate(METRIC.inputTokensTotal, ["model"]), legend: "in {{model}}" },
          { expr: tokenRate(METRIC.outputTokensTotal, ["model"]), legend: "out {{model}}" },
        ],
      }),
    ],
  };
}
