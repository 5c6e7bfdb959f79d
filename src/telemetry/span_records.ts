/**
 * A finished span as a compact record (plain arrays, strings, numbers and the attribute object as
 * the span holds it) that crosses to the export worker in groups as one JSON text, and the span
 * rebuilt from it on the other side with exactly what the OTLP serializers read. Rebuilt spans
 * serialize to the same bytes as the originals (tests/telemetry/span_records_test.ts).
 *
 * JSON, not structured clone: the structured clone serializer writes every attribute key of every
 * span and is slower at it than JSON.stringify (groups of 32 records: 4–7 vs 2–4 µs per span with
 * the post), and in the traced server's profile the hand-over fell from 9–16 % of the event loop
 * to 3 %. JSON turns an absent field (`undefined`) into `null`, so the rebuilder reads `null` as
 * absent; attribute values are strings, finite numbers, booleans and arrays of them, which JSON
 * carries exactly.
 */
import type { HrTime, Link, SpanContext, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace";

/** A link with its trace state serialized (a TraceState object does not survive the crossing). */
type LinkRecord = [
  traceId: string,
  spanId: string,
  traceFlags: number,
  isRemote: boolean | undefined,
  traceState: string | undefined,
  attributes: Link["attributes"],
  droppedAttributesCount: number | undefined,
];

/** One finished span, flat. */
export type SpanRecord = [
  name: string,
  kind: SpanKind,
  traceId: string,
  spanId: string,
  traceFlags: number,
  traceState: string | undefined,
  parentSpanId: string | undefined,
  parentIsRemote: boolean | undefined,
  startTime: HrTime,
  endTime: HrTime,
  statusCode: SpanStatusCode,
  statusMessage: string | undefined,
  attributes: ReadableSpan["attributes"],
  droppedAttributesCount: number,
  events: TimedEvent[],
  droppedEventsCount: number,
  links: LinkRecord[],
  droppedLinksCount: number,
  scopeName: string,
  scopeVersion: string | undefined,
  scopeSchemaUrl: string | undefined,
];

const NO_LINKS: LinkRecord[] = [];

/** The record of a finished span. */
export function toRecord(span: ReadableSpan): SpanRecord {
  const ctx = span.spanContext();
  const parent = span.parentSpanContext;
  const scope = span.instrumentationScope;
  return [
    span.name,
    span.kind,
    ctx.traceId,
    ctx.spanId,
    ctx.traceFlags,
    ctx.traceState?.serialize(),
    parent?.spanId,
    parent?.isRemote,
    span.startTime,
    span.endTime,
    span.status.code,
    span.status.message,
    span.attributes,
    span.droppedAttributesCount,
    span.events,
    span.droppedEventsCount,
    span.links.length === 0 ? NO_LINKS : span.links.map((link) => [
      link.context.traceId,
      link.context.spanId,
      link.context.traceFlags,
      link.context.isRemote,
      link.context.traceState?.serialize(),
      link.attributes,
      link.droppedAttributesCount,
    ]),
    span.droppedLinksCount,
    scope.name,
    scope.version,
    scope.schemaUrl,
  ];
}

/** A group of records as the text handed to the worker. */
export function encodeRecords(records: readonly SpanRecord[]): string {
  return JSON.stringify(records);
}

/** The records of a text `encodeRecords` made (absent fields come back as `null`). */
export function decodeRecords(text: string): SpanRecord[] {
  return JSON.parse(text);
}

/** Only `serialize` of a trace state is read when exporting. */
function traceStateOf(serialized: string | null | undefined): SpanContext["traceState"] {
  if (serialized == null) return undefined;
  return { serialize: () => serialized } as SpanContext["traceState"];
}

/** Rebuilds spans from records: one resource for all, one scope object per distinct scope. */
export class SpanRebuilder {
  readonly #resource: Resource;
  readonly #scopes = new Map<string, ReadableSpan["instrumentationScope"]>();

  constructor(resource: Resource) {
    this.#resource = resource;
  }

  /** The span a record describes, as the OTLP serializers and the batch processor read it. */
  rebuild(r: SpanRecord): ReadableSpan {
    const context: SpanContext = {
      traceId: r[2],
      spanId: r[3],
      traceFlags: r[4],
      traceState: traceStateOf(r[5]),
    };
    const start = r[8];
    const end = r[9];
    let seconds = end[0] - start[0];
    let nanos = end[1] - start[1];
    if (nanos < 0) {
      seconds -= 1;
      nanos += 1e9;
    }
    return {
      name: r[0],
      kind: r[1],
      spanContext: () => context,
      parentSpanContext: r[6] == null ? undefined : {
        traceId: r[2],
        spanId: r[6],
        traceFlags: r[4],
        isRemote: r[7] ?? undefined,
      },
      startTime: start,
      endTime: end,
      duration: [seconds, nanos],
      ended: true,
      status: r[11] == null ? { code: r[10] } : { code: r[10], message: r[11] },
      attributes: r[12],
      droppedAttributesCount: r[13],
      events: r[14],
      droppedEventsCount: r[15],
      links: r[16].map((l) => ({
        context: {
          traceId: l[0],
          spanId: l[1],
          traceFlags: l[2],
          isRemote: l[3] ?? undefined,
          traceState: traceStateOf(l[4]),
        },
        attributes: l[5] ?? undefined,
        droppedAttributesCount: l[6] ?? undefined,
      })),
      droppedLinksCount: r[17],
      resource: this.#resource,
      instrumentationScope: this.#scope(r[18], r[19] ?? undefined, r[20] ?? undefined),
    };
  }

  #scope(name: string, version: string | undefined, schemaUrl: string | undefined) {
    const key = `${name}\n${version ?? ""}\n${schemaUrl ?? ""}`;
    let scope = this.#scopes.get(key);
    if (!scope) {
      scope = { name, version, schemaUrl };
      this.#scopes.set(key, scope);
    }
    return scope;
  }
}
