/**
 * The drill-down's budget forecast evaluated by promtool on synthetic series with the shipped
 * recording rules: the calendar arithmetic is easy to get subtly wrong, and a wrong forecast
 * still "returns data".
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { stackBinaries } from "../../scripts/stack.ts";
import { forecastAtWindowEnd } from "../src/tenant/forecast.ts";

const REPO = new URL("../../", import.meta.url);
const scrape = 'job="inference-cost-tracker", instance="app:8000"';

Deno.test("the budget forecast is spent plus the last hour's burn until each window resets", async () => {
  const { promtool } = await stackBinaries(REPO.pathname);
  const dir = await Deno.makeTempDir({ prefix: "ict-forecast-" });
  try {
    // Unit tests start at 1970-01-01T00:00:00Z; at 01:30 the hour resets in 30 min, the day in
    // 22 h 30 min, January (31 days) in 30 days 22 h 30 min. The counter grows $0.06 a minute,
    // $0.001 a second, for 90 minutes: the trailing-hour rate is exact.
    const resetIn = { hour: 1800, day: 81000, month: 30 * 86400 + 81000 };
    const spent = { hour: 5, day: 50, month: 100 };
    const test = {
      rule_files: [
        new URL("alerts/recording.rules.yml", REPO).pathname,
        new URL("alerts/budget.rules.yml", REPO).pathname,
      ],
      evaluation_interval: "15s",
      tests: [{
        interval: "1m",
        input_series: [
          {
            series: `inference_cost_usd_total{${scrape}, tenant="team-a", model="gpt-4o"}`,
            values: "0+0.06x90",
          },
          ...(["hour", "day", "month"] as const).flatMap((window) => [
            {
              series: `inference_budget_spent_usd{${scrape}, tenant="team-a", window="${window}"}`,
              values: `${spent[window]}x90`,
            },
            {
              series: `inference_budget_limit_usd{${scrape}, tenant="team-a", window="${window}"}`,
              values: "10000x90",
            },
          ]),
        ],
        promql_expr_test: [{
          // Rounded to a micro-dollar: float sums such as 50 + 0.001 × 81000 differ in the last
          // bits, more than promtool's fuzzy_compare forgives.
          expr: `round(${forecastAtWindowEnd('tenant="team-a"')}, 0.000001)`,
          eval_time: "90m",
          exp_samples: (["hour", "day", "month"] as const).map((window) => ({
            labels: `{tenant="team-a", window="${window}"}`,
            value: spent[window] + 0.001 * resetIn[window],
          })),
        }],
      }],
    };
    const file = `${dir}/forecast.test.yml`;
    await Deno.writeTextFile(file, stringify(test));
    const run = await new Deno.Command(promtool, {
      args: ["test", "rules", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const output = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
    assert.ok(run.success, `promtool test rules failed:\n${output}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
