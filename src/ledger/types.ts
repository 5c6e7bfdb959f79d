/** The ledger's interface and options, apart from its stores so that each store can name them. */
import type { Logger } from "../log.ts";
import type { LedgerMetrics } from "../telemetry/metrics.ts";
import type { LedgerRow } from "./row.ts";
import type { RecordsQuery, RowFilter, SpendQuery } from "./query.ts";
import type { RecordsPage, SpendReport, WindowSpend } from "./queries.ts";
import type { LiveData, LiveSummary, SummaryQuery } from "../live/data.ts";

/** The ledger as the app, the spend routes, the live page and `deno task spend` use it. */
export interface Ledger extends LiveData {
  /** Where rows go: a SQLite file, or PostgreSQL through the outbox. */
  readonly store: "sqlite" | "postgres";
  /**
   * Records a row; resolves once it is durable (committed to the SQLite file or the outbox), so
   * a response that awaits it survives a SIGKILL. A replayed request id is a no-op.
   */
  append(row: LedgerRow): Promise<void>;
  /** A spend report: totals and groups of the rows a query selects. */
  report(query: SpendQuery): Promise<SpendReport>;
  /** A page of records, newest first. */
  page(query: RecordsQuery): Promise<RecordsPage>;
  /** One record by request id, or null. */
  record(requestId: string): Promise<LedgerRow | null>;
  /** Every row of a filter, oldest first, in chunks of up to a few thousand (for exports). */
  scan(filter: RowFilter): AsyncIterable<readonly LedgerRow[]>;
  /** The live page's snapshot: this hour's, day's and month's totals and the newest rows. */
  summary(query: SummaryQuery): Promise<LiveSummary>;
  /** Each tenant's spend in the current hour, day and month: budgets start from it. */
  windowSpend(nowMs: number): Promise<WindowSpend>;
  /** Deletes rows past the retention period; resolves to how many (0 when keeping all). */
  prune(nowMs: number): Promise<number>;
  /** Rows committed locally and not yet in PostgreSQL (always 0 for SQLite). */
  backlog(): number;
  /** Commits what is queued (and, with PostgreSQL, tries to ship it), then closes. */
  close(): Promise<void>;
}

/** What a ledger is built with besides its store. */
export interface LedgerOptions {
  readonly metrics?: LedgerMetrics;
  readonly logger?: Logger;
  /** LEDGER_RETENTION_DAYS; undefined keeps every row. */
  readonly retentionDays?: number;
  /** The wall clock, epoch ms (retention runs against it). */
  readonly now?: () => number;
  /** Read only (`deno task spend`): with PostgreSQL, no outbox is opened and nothing shipped. */
  readonly readOnly?: boolean;
}
