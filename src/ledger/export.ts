/**
 * Exports as streams of CSV text: the records themselves (a header, then one line per request)
 * and FinOps FOCUS (see focus.ts). Rows are read and written in chunks, so a month of millions of
 * requests never sits in memory as one string.
 */
import { formatUsd } from "../pricing/money.ts";
import type { LedgerRow } from "./row.ts";
import { FOCUS_COLUMNS, type FocusOptions, focusWriter } from "./focus.ts";
import { type Cell, csvLine } from "./csv.ts";

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

/** A header line, then the lines of each chunk's rows, one string per chunk. */
async function* csvText(
  header: readonly string[],
  chunks: AsyncIterable<readonly LedgerRow[]>,
  lines: (row: LedgerRow) => string,
): AsyncGenerator<string> {
  yield csvLine(header);
  for await (const rows of chunks) {
    let text = "";
    for (const row of rows) text += lines(row);
    if (text) yield text;
  }
}

/** The CSV export of chunks of rows: a header line, then one line per request. */
export function csvExport(chunks: AsyncIterable<readonly LedgerRow[]>): AsyncGenerator<string> {
  return csvText(CSV_COLUMNS, chunks, (row) => csvLine(csvRecord(row)));
}

/** The FOCUS export of chunks of rows: one line per request and priced token kind. */
export function focusExport(
  chunks: AsyncIterable<readonly LedgerRow[]>,
  options: FocusOptions,
): AsyncGenerator<string> {
  return csvText(FOCUS_COLUMNS, chunks, focusWriter(options));
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
