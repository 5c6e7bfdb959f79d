/**
 * Reading the spend ledger over HTTP: `GET /v1/spend` (a report), `/v1/spend/requests` (records,
 * newest first, paged), `/v1/spend/requests/{id}` (one record) and `/v1/spend/export` (CSV or
 * FOCUS). Who may read what is decided by the `authorize` callback: an admin sees every tenant, a
 * tenant key only its own tenant (naming another is a 403, never an empty answer).
 */
import type { Context, Hono } from "hono";
import { ApiError } from "../http/errors.ts";
import type { Logger } from "../log.ts";
import type { Ledger } from "../ledger/ledger.ts";
import {
  encodeCursor,
  LedgerQueryError,
  parseExportQuery,
  parseRecordsQuery,
  parseSpendQuery,
  type RowFilter,
} from "../ledger/query.ts";
import { recordObject, reportObject, toJson } from "../ledger/render.ts";
import { csvExport, focusExport, textStream } from "../ledger/export.ts";

/** What a caller may read: every tenant (admin, or demo mode), or one tenant. */
export interface SpendAccess {
  readonly admin: boolean;
  readonly tenant?: string;
}

/** What the spend routes need. */
export interface SpendRouteDeps {
  /** The ledger, or null when it is off (LEDGER_URL=none): the routes then answer 404. */
  readonly ledger: Ledger | null;
  /**
   * Who is asking, from the request headers; null (or a thrown ApiError) for a caller that is
   * not allowed in at all.
   */
  authorize(headers: Headers): SpendAccess | null;
  /** The wall clock, epoch ms: the default end of a range. */
  readonly now?: () => number;
  /** FOCUS `BillingAccountId`/`Name`: who issues these charges (e.g. the service name). */
  readonly billingAccount?: string;
  readonly logger?: Logger;
}

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

/** Registers the spend routes on `app`. */
export function registerSpendRoutes(app: Hono, deps: SpendRouteDeps): void {
  const now = deps.now ?? Date.now;
  const billingAccount = deps.billingAccount ?? "inference-cost-tracker";

  const handle =
    (answer: (ledger: Ledger, access: SpendAccess, c: Context) => Promise<Response>) =>
    async (c: Context): Promise<Response> => {
      try {
        const access = deps.authorize(c.req.raw.headers);
        if (access === null) {
          throw new ApiError("unauthorized", "a valid API key is required", {}, {
            "WWW-Authenticate": "Bearer",
          });
        }
        if (!deps.ledger) {
          throw new ApiError(
            "not_found",
            "the spend ledger is off on this server (LEDGER_URL=none)",
          );
        }
        return await answer(deps.ledger, access, c);
      } catch (thrown) {
        const error = asApiError(thrown, deps.logger);
        return new Response(JSON.stringify(error.toBody()), {
          status: error.httpStatus,
          headers: { ...JSON_HEADERS, ...error.headers },
        });
      }
    };

  app.get(
    "/v1/spend",
    handle(async (ledger, access, c) => {
      const query = parseSpendQuery(new URL(c.req.url).searchParams, now());
      const report = await ledger.report({ ...query, tenant: scopedTenant(access, query) });
      return new Response(toJson(reportObject(report)), { headers: JSON_HEADERS });
    }),
  );

  app.get(
    "/v1/spend/requests",
    handle(async (ledger, access, c) => {
      const query = parseRecordsQuery(new URL(c.req.url).searchParams, now());
      const page = await ledger.page({ ...query, tenant: scopedTenant(access, query) });
      const body = {
        data: page.records.map(recordObject),
        has_more: page.next !== null,
        next_cursor: page.next ? encodeCursor(page.next) : null,
      };
      return new Response(toJson(body), { headers: JSON_HEADERS });
    }),
  );

  app.get(
    "/v1/spend/requests/:id{.+}",
    handle(async (ledger, access, c) => {
      const id = c.req.param("id") ?? "";
      const row = await ledger.record(id);
      if (!row) {
        throw new ApiError(
          "not_found",
          `no request ${JSON.stringify(id.slice(0, 200))} in the ledger`,
        );
      }
      if (!access.admin && row.tenant !== access.tenant) {
        throw new ApiError("forbidden", "this request belongs to another tenant");
      }
      return new Response(toJson(recordObject(row)), { headers: JSON_HEADERS });
    }),
  );

  app.get(
    "/v1/spend/export",
    handle(async (ledger, access, c) => {
      const query = parseExportQuery(new URL(c.req.url).searchParams, now());
      const rows = ledger.scan({ ...query, tenant: scopedTenant(access, query) });
      const chunks = query.format === "csv" ? csvExport(rows) : focusExport(rows, {
        billingAccountId: billingAccount,
        billingAccountName: billingAccount,
      });
      const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
      const name = `${query.format === "csv" ? "spend" : "focus"}-${day(query.fromMs)}-${
        day(query.toMs)
      }.csv`;
      return new Response(await textStream(chunks), {
        headers: {
          "content-type": "text/csv; charset=utf-8",
          "content-disposition": `attachment; filename="${name}"`,
        },
      });
    }),
  );
}

/** The tenant filter a caller's query runs with; 403 for a tenant asking about another. */
function scopedTenant(access: SpendAccess, filter: RowFilter): string | undefined {
  if (access.admin) return filter.tenant;
  if (access.tenant === undefined) throw new ApiError("forbidden", "this key may not read spend");
  if (filter.tenant !== undefined && filter.tenant !== access.tenant) {
    throw new ApiError("forbidden", `this key may read tenant "${access.tenant}" only`);
  }
  return access.tenant;
}

function asApiError(thrown: unknown, logger: Logger | undefined): ApiError {
  if (thrown instanceof ApiError) return thrown;
  if (thrown instanceof LedgerQueryError) return new ApiError("invalid_request", thrown.message);
  // Anything else is the store failing (the database down, a locked file): tell the client to
  // retry, and the log what happened.
  logger?.error("spend ledger read failed", { error: String(thrown) });
  return new ApiError(
    "overloaded",
    "the spend ledger cannot be read right now; retry shortly",
    {},
    { "Retry-After": "1" },
  );
}
