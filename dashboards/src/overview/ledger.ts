/**
 * Overview row "Spend ledger": the ledger reconciled with the cost counters, and the health of its
 * writes. Its figures exist only while the ledger is on (LEDGER_URL is not none).
 */
import {
  COLOR,
  type Row,
  SIZE,
  statPanel,
  steps,
  thresholdLines,
  timeseriesPanel,
  UNIT,
} from "../defaults.ts";
import { app, METRIC, RULE, spendOver } from "../promql.ts";

/** The spend ledger row of the cost overview. */
export function ledgerRow(): Row {
  return {
    title: "Spend ledger",
    panels: [
      timeseriesPanel({
        title: "Ledger and metrics, last hour",
        description: "USD spent in the trailing hour as the cost counters count it " +
          "(inference_cost_usd_total) and as the spend ledger recorded it " +
          "(instance:inference_ledger_cost_usd:increase1h, summed over replicas). The two lines " +
          "lie on each other; a gap means requests without a ledger row. Exact month-to-date " +
          "figures come from the ledger itself: GET /v1/spend or deno task spend.",
        unit: UNIT.usd,
        span: SIZE.third,
        queries: [
          { expr: spendOver("1h", []), legend: "counted by the metrics" },
          { expr: `sum (${RULE.ledgerCost1hByInstance})`, legend: "recorded in the ledger" },
        ],
      }),
      thresholdLines(
        timeseriesPanel({
          title: "Ledger gap, last hour",
          description:
            "Per replica, USD counted by the metrics in the trailing hour but not recorded in " +
            "the spend ledger (instance:inference_ledger_cost_gap_usd:increase1h): the quantity " +
            "InferenceLedgerCostMismatch watches (it fires above $0.01 and 1 % of the hour's " +
            "spend for 15 minutes). Normally 0.",
          unit: UNIT.usd,
          span: SIZE.third,
          queries: [{ expr: RULE.ledgerGap1hByInstance, legend: "{{instance}}" }],
        }),
        steps(COLOR.ok, [0.01, COLOR.bad]),
      ),
      timeseriesPanel({
        title: "Ledger outbox backlog",
        description: "Rows each replica committed to its local outbox and has not yet shipped to " +
          "PostgreSQL (always 0 with the SQLite ledger). A few rows under load are normal; a " +
          "backlog that grows while nothing ships is InferenceLedgerOutboxBacklog.",
        unit: UNIT.rows,
        span: SIZE.third / 2,
        queries: [{
          expr: `sum by (instance) (${app(METRIC.ledgerOutboxBacklog)})`,
          legend: "{{instance}}",
        }],
      }),
      statPanel({
        title: "Ledger write errors, last hour",
        description:
          "Ledger rows that could not be written in the trailing hour, all replicas: requests " +
          "served but missing from the billing record (InferenceLedgerWriteErrors). Should be 0.",
        unit: UNIT.rows,
        span: SIZE.third / 2,
        height: SIZE.chartHeight,
        thresholds: steps(COLOR.ok, [1, COLOR.bad]),
        queries: [{
          expr: `sum (increase(${app(METRIC.ledgerWriteErrorsTotal)}[1h]))`,
          instant: true,
          legend: "write errors",
        }],
      }),
    ],
  };
}
