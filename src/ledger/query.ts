/**
 * What a reader asks the ledger: a time range (half-open `[from, to)`, UTC), optional tenant and
 * model filters, a grouping for reports, a page for record listings. Parsed from URL query
 * parameters (the HTTP API and `deno task spend` share this), every error naming its parameter.
 */
import { z } from "zod";

/** Dimensions a spend report can be grouped by. */
export const GROUP_KEYS = ["tenant", "model", "day", "hour", "key", "user", "route"] as const;
/** One of {@link GROUP_KEYS}. */
export type GroupKey = typeof GROUP_KEYS[number];

/** The grouping of a report when the caller names none. */
export const DEFAULT_GROUP_BY: readonly GroupKey[] = ["tenant", "model"];

/** Which rows: `fromMs <= ts < toMs`, optionally one tenant and one model. */
export interface RowFilter {
  readonly fromMs: number;
  readonly toMs: number;
  readonly tenant?: string;
  readonly model?: string;
}

/** A spend report request. */
export interface SpendQuery extends RowFilter {
  readonly groupBy: readonly GroupKey[];
}

/** A position in the newest-first listing: the last row of the previous page. */
export interface Cursor {
  readonly ts: number;
  readonly requestId: string;
}

/** A page of records, newest first. */
export interface RecordsQuery extends RowFilter {
  readonly limit: number;
  readonly after?: Cursor;
}

/** Export formats. */
export const EXPORT_FORMATS = ["csv", "focus"] as const;

/** An export request. */
export interface ExportQuery extends RowFilter {
  readonly format: typeof EXPORT_FORMATS[number];
}

/** A query parameter that does not validate; the message names it. */
export class LedgerQueryError extends Error {
  override name = "LedgerQueryError";
}

/** Most records one page may hold. */
export const MAX_PAGE_LIMIT = 1000;
const DEFAULT_PAGE_LIMIT = 100;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * An RFC 3339 instant or a date (midnight UTC) as epoch milliseconds; null when it is neither
 * or names a day that does not exist. Digits past milliseconds are dropped.
 * @example parseInstant("2026-11-25") // Date.UTC(2026, 10, 25)
 */
export function parseInstant(text: string): number | null {
  const date = DATE.exec(text);
  const dateTime = date ? null : DATE_TIME.exec(text);
  const parts = date ?? dateTime;
  if (!parts) return null;
  const [year, month, day] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  const midnight = new Date(Date.UTC(year, month - 1, day));
  if (
    month < 1 || midnight.getUTCFullYear() !== year || midnight.getUTCMonth() !== month - 1 ||
    midnight.getUTCDate() !== day
  ) {
    return null;
  }
  if (!dateTime) return midnight.getTime();
  const [hour, minute, second] = [Number(dateTime[4]), Number(dateTime[5]), Number(dateTime[6])];
  if (hour > 23 || minute > 59 || second > 59) return null;
  const fraction = (dateTime[7] ?? "").slice(0, 4);
  const offset = dateTime[8].toUpperCase();
  const ms = Date.parse(
    `${parts[1]}-${parts[2]}-${parts[3]}T${dateTime[4]}:${dateTime[5]}:${
      dateTime[6]
    }${fraction}${offset}`,
  );
  return Number.isNaN(ms) ? null : ms;
}

/** The first instant of the UTC month containing `ms`. */
export function monthStartMs(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

const text = z.string().min(1).max(256);
const paramsSchema = z.object({
  from: z.string().optional(),
  to: z.string().optional(),
  tenant: text.optional(),
  model: text.optional(),
  group_by: z.string().optional(),
  limit: z.string().regex(/^\d{1,7}$/, "must be a whole number").transform(Number)
    .pipe(z.number().int().min(1).max(MAX_PAGE_LIMIT)).optional(),
  cursor: z.string().max(1000).optional(),
  format: z.enum(EXPORT_FORMATS).optional(),
});

type Params = z.infer<typeof paramsSchema>;

function parseParams(params: URLSearchParams, allowed: readonly (keyof Params)[]): Params {
  const raw: Record<string, string> = {};
  for (const [name, value] of params) {
    if (!(allowed as readonly string[]).includes(name)) {
      throw new LedgerQueryError(`${name}: unknown parameter (allowed: ${allowed.join(", ")})`);
    }
    if (name in raw) throw new LedgerQueryError(`${name}: given more than once`);
    raw[name] = value;
  }
  const parsed = paramsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LedgerQueryError(`${String(issue.path[0] ?? "query")}: ${issue.message}`);
  }
  return parsed.data;
}

function filterOf(p: Params, nowMs: number): RowFilter {
  const instant = (name: "from" | "to", value: string) => {
    const ms = parseInstant(value);
    if (ms === null) {
      throw new LedgerQueryError(
        `${name}: must be an RFC 3339 time (2026-11-25T14:00:00Z) or a date (2026-11-25)`,
      );
    }
    return ms;
  };
  const toMs = p.to === undefined ? nowMs : instant("to", p.to);
  // Without `from`: the current UTC month to date, or the month that an explicit `to` ends.
  const fromMs = p.from !== undefined
    ? instant("from", p.from)
    : monthStartMs(p.to === undefined ? nowMs : toMs - 1);
  if (fromMs > toMs) throw new LedgerQueryError("from: must not be after to");
  return { fromMs, toMs, tenant: p.tenant, model: p.model };
}

/** Parses `/v1/spend` parameters: from, to, tenant, model, group_by. */
export function parseSpendQuery(params: URLSearchParams, nowMs: number): SpendQuery {
  const p = parseParams(params, ["from", "to", "tenant", "model", "group_by"]);
  let groupBy: readonly GroupKey[] = DEFAULT_GROUP_BY;
  if (p.group_by !== undefined) {
    const names = p.group_by === "" ? [] : p.group_by.split(",").map((s) => s.trim());
    for (const name of names) {
      if (!(GROUP_KEYS as readonly string[]).includes(name)) {
        throw new LedgerQueryError(
          `group_by: "${name.slice(0, 40)}" is not one of ${GROUP_KEYS.join(", ")}`,
        );
      }
    }
    if (new Set(names).size !== names.length) throw new LedgerQueryError("group_by: repeats a key");
    groupBy = names as GroupKey[];
  }
  return { ...filterOf(p, nowMs), groupBy };
}

/** Parses `/v1/spend/requests` parameters: the filters plus limit and cursor. */
export function parseRecordsQuery(params: URLSearchParams, nowMs: number): RecordsQuery {
  const p = parseParams(params, ["from", "to", "tenant", "model", "limit", "cursor"]);
  return {
    ...filterOf(p, nowMs),
    limit: p.limit ?? DEFAULT_PAGE_LIMIT,
    after: p.cursor === undefined ? undefined : decodeCursor(p.cursor),
  };
}

/** Parses `/v1/spend/export` parameters: the filters plus format (required). */
export function parseExportQuery(params: URLSearchParams, nowMs: number): ExportQuery {
  const p = parseParams(params, ["from", "to", "tenant", "model", "format"]);
  if (p.format === undefined) throw new LedgerQueryError("format: required, csv or focus");
  return { ...filterOf(p, nowMs), format: p.format };
}

/** The opaque cursor of a position: base64url of `[ts, request_id]`. */
export function encodeCursor(cursor: Cursor): string {
  const bytes = new TextEncoder().encode(JSON.stringify([cursor.ts, cursor.requestId]));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

const cursorSchema = z.tuple([z.number().int().nonnegative(), z.string().min(1).max(200)]);

/** Reads a cursor from {@link encodeCursor}; a damaged one is a {@link LedgerQueryError}. */
export function decodeCursor(text: string): Cursor {
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    const json = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    const [ts, requestId] = cursorSchema.parse(JSON.parse(json));
    return { ts, requestId };
  } catch {
    throw new LedgerQueryError("cursor: not a cursor this server returned");
  }
}
