/**
 * Exports as streams of CSV text: the records themselves (a header, then one line per request)
 * and FinOps FOCUS (see focus.ts). Rows are read and written in chunks, so a month of millions of
 * requests never sits in memory as one string.
 */
import { formatUsd } from "../pricing/money.ts";
import type { LedgerRow } from "./row.ts";
import { focusColumns, type FocusOptions, focusRecords } from "./focus.ts";

/** The CSV export's columns, in order. */
export const CSV_COLUMNS = [
  "request_id",
  "time",
  "tenant",
  "key_name",
  "end_user",
  "model",
  "request_model",
  "provider",
  "route",
  "operation",
  "status",
  "error_type",
  "input_tokens",
  "cached_input_tokens",
  "cache_write_5m_tokens",
  "cache_write_1h_tokens",
  "output_tokens",
  "reasoning_tokens",
  "service_tier",
  "price_tier",
  "cost_usd",
  "input_cost_usd",
  "cached_input_cost_usd",
  "cache_write_5m_cost_usd",
  "cache_write_1h_cost_usd",
  "output_cost_usd",
  "unpriced",
  "usage_source",
  "pricing_version",
  "trace_id",
] as const;

type Cell = string | number | null;

// CSV is written here rather than with an npm CSV library: those libraries' type definitions pull
// in an old @types/node that hides `node:sqlite` from the type checker.

/**
 * One CSV line (RFC 4180, `\n`-terminated). A text cell starting with `=`, `+`, `-`, `@`, tab or
 * CR gets a leading `'`, so a client-chosen value (an end user, a request id) cannot run as a
 * spreadsheet formula; cells holding a comma, quote or line break are quoted.
 */
export function csvLine(cells: readonly Cell[]): string {
  return cells.map((cell) => {
    if (cell === null) return "";
    if (typeof cell === "number") return String(cell);
    const text = /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell;
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  }).join(",") + "\n";
}

const usd = (pico: bigint | null | undefined): string => pico == null ? "" : formatUsd(pico);

function csvRecord(row: LedgerRow): Cell[] {
  const k = row.kindCosts;
  return [
    row.requestId,
    new Date(row.ts).toISOString(),
    row.tenant,
    row.keyName,
    row.endUser,
    row.model,
    row.requestModel,
    row.provider,
    row.route,
    row.operation,
    row.status,
    row.errorType,
    row.inputTokens,
    row.cachedInputTokens,
    row.cacheWrite5mTokens,
    row.cacheWrite1hTokens,
    row.outputTokens,
    row.reasoningTokens,
    row.serviceTier,
    row.priceTier,
    usd(row.costPico),
    usd(k?.input),
    usd(k?.cached_input),
    usd(k?.cache_write_5m),
    usd(k?.cache_write_1h),
    usd(k?.output),
    row.unpriced ? "true" : "false",
    row.usageSource,
    row.pricingVersion,
    row.traceId,
  ];
}

const CHUNK_ROWS = 1000;

async function* csvText(
  header: readonly string[],
  records: AsyncIterable<Cell[]>,
): AsyncGenerator<string> {
  yield csvLine(header);
  let chunk = "";
  let n = 0;
  for await (const record of records) {
    chunk += csvLine(record);
    if (++n === CHUNK_ROWS) {
      yield chunk;
      chunk = "";
      n = 0;
    }
  }
  if (chunk) yield chunk;
}

async function* mapRows(rows: AsyncIterable<LedgerRow>): AsyncGenerator<Cell[]> {
  for await (const row of rows) yield csvRecord(row);
}

/** The CSV export of `rows`: a header line, then one line per request. */
export function csvExport(rows: AsyncIterable<LedgerRow>): AsyncGenerator<string> {
  return csvText(CSV_COLUMNS, mapRows(rows));
}

/** The FOCUS export of `rows`: one line per request and priced token kind. */
export function focusExport(
  rows: AsyncIterable<LedgerRow>,
  options: FocusOptions,
): AsyncGenerator<string> {
  return csvText(focusColumns(), focusRecords(rows, options));
}

/**
 * A byte stream of text chunks; cancelling it (a client gone) stops reading the ledger. The first
 * chunks are read before it is returned, so a store that cannot be read fails here — and can be
 * answered with an error status — rather than midway through a download.
 */
export async function textStream(
  chunks: AsyncGenerator<string>,
  primed = 2,
): Promise<ReadableStream<Uint8Array>> {
  const encoder = new TextEncoder();
  const ready: string[] = [];
  let done = false;
  while (ready.length < primed && !done) {
    const next = await chunks.next();
    if (next.done) done = true;
    else ready.push(next.value);
  }
  return new ReadableStream({
    async pull(controller) {
      const first = ready.shift();
      if (first !== undefined) return controller.enqueue(encoder.encode(first));
      const next = done ? { done: true as const, value: undefined } : await chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
}
