/**
 * `deno task spend`: the spend report as a table in the terminal, read straight from the ledger
 * that LEDGER_URL names (the SQLite file or PostgreSQL; a running server is not needed, and a
 * server writing meanwhile is fine), and the CSV or FOCUS export written to a file. The flags are
 * the `/v1/spend` query parameters, validated the same way.
 *
 *   deno task spend                                   # this month to date, tenant × model
 *   deno task spend --from 2026-10-01 --to 2026-11-01 --group-by tenant,day
 *   deno task spend --export focus --out focus.csv    # the FOCUS export of the same range
 */
import { parseArgs } from "node:util";
import { ConfigError, configFromEnvironment } from "../src/config.ts";
import { openLedger } from "../src/ledger/ledger.ts";
import {
  LedgerQueryError,
  parseExportQuery,
  parseSpendQuery,
  type SpendQuery,
} from "../src/ledger/query.ts";
import type { SpendReport, SpendTotals } from "../src/ledger/queries.ts";
import { csvExport, focusExport } from "../src/ledger/export.ts";
import { formatUsd } from "../src/pricing/money.ts";

const USAGE = `usage: deno task spend [--from T] [--to T] [--tenant ID] [--model ID]
                       [--group-by KEYS] [--export csv|focus [--out FILE]]
  T: an RFC 3339 time or a date (UTC); default: this month to date
  KEYS: comma-separated tenant, model, day, hour, key, user, route (default tenant,model)
  The ledger is the one LEDGER_URL names (default sqlite:./data/ledger.sqlite).`;

/** The report as aligned text: one line per group and a total line. */
export function reportTable(report: SpendReport): string {
  const columns: [string, (t: SpendTotals) => string][] = [
    ["requests", (t) => String(t.requests)],
    ["refused", (t) => String(t.refusedRequests)],
    ["unpriced", (t) => String(t.unpricedRequests)],
    ["input tokens", (t) => String(t.inputTokens)],
    ["cached", (t) => String(t.cachedInputTokens)],
    ["cache writes", (t) => String(t.cacheWriteTokens)],
    ["output tokens", (t) => String(t.outputTokens)],
    ["cost (USD)", (t) => formatUsd(t.costPico)],
  ];
  const keys = report.groupBy;
  // Without grouping there is only the total line, under an empty label column.
  const labels: string[] = keys.length ? [...keys] : [""];
  const header = [...labels, ...columns.map(([name]) => name)];
  const line = (
    label: string[],
    t: SpendTotals,
  ) => [...label, ...columns.map(([, value]) => value(t))];
  const body = report.groups.map((g) => line(keys.map((k) => g.keys[k] ?? "-"), g.totals));
  const total = line(labels.map((_, i) => i === 0 ? "total" : ""), report.total);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...[...body, total].map((l) => l[i].length))
  );
  const render = (cells: string[]) =>
    cells.map((c, i) => i >= labels.length ? c.padStart(widths[i]) : c.padEnd(widths[i]))
      .join("  ").trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  const title = `Spend ${new Date(report.fromMs).toISOString()} to ${
    new Date(report.toMs).toISOString()
  } (UTC, [from, to))${keys.length ? ", by " + keys.join(", ") : ""}`;
  const groups = body.length ? [...body.map(render), rule] : [];
  return [title, "", render(header), rule, ...groups, render(total)].join("\n");
}

/** Counts the rows of the chunks that pass through. */
async function* counted<T>(
  chunks: AsyncIterable<readonly T[]>,
  count: { n: number },
): AsyncGenerator<readonly T[]> {
  for await (const chunk of chunks) {
    count.n += chunk.length;
    yield chunk;
  }
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      from: { type: "string" },
      to: { type: "string" },
      tenant: { type: "string" },
      model: { type: "string" },
      "group-by": { type: "string" },
      export: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const params = new URLSearchParams();
  for (const name of ["from", "to", "tenant", "model"] as const) {
    if (values[name] !== undefined) params.set(name, values[name]);
  }
  const config = configFromEnvironment();
  const ledger = openLedger(config.ledger, { readOnly: true });
  if (!ledger) {
    console.error("the ledger is off (LEDGER_URL=none): there is nothing to report");
    return 1;
  }
  try {
    const now = Date.now();
    if (values.export !== undefined) {
      params.set("format", values.export);
      const query = parseExportQuery(params, now);
      const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
      const out = values.out ??
        `${query.format === "csv" ? "spend" : "focus"}-${day(query.fromMs)}-${day(query.toMs)}.csv`;
      const count = { n: 0 };
      const rows = counted(ledger.scan(query), count);
      const chunks = query.format === "csv" ? csvExport(rows) : focusExport(rows, {
        billingAccountId: config.serviceName,
        billingAccountName: config.serviceName,
      });
      using file = await Deno.open(out, { write: true, create: true, truncate: true });
      const encoder = new TextEncoder();
      for await (const chunk of chunks) await file.write(encoder.encode(chunk));
      console.log(`wrote ${out}: ${query.format} export of ${count.n} requests`);
      return 0;
    }
    if (values["group-by"] !== undefined) params.set("group_by", values["group-by"]);
    const query: SpendQuery = parseSpendQuery(params, now);
    console.log(reportTable(await ledger.report(query)));
    return 0;
  } finally {
    await ledger.close();
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    if (
      error instanceof LedgerQueryError || error instanceof ConfigError ||
      error instanceof TypeError
    ) {
      console.error(`${error.message}\n\n${USAGE}`);
      Deno.exit(2);
    }
    throw error;
  }
}
