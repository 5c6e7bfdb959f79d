/**
 * A finished span as plain data, so it can cross to the export worker (span_worker.ts) by
 * structured clone: what the OTLP serializers read of a span, nothing more. The worker turns each
 * record back into a span the SDK's batch processor and exporter take as their own, so the bytes
 * the collector receives are the ones an in-thread export would send.
 */
import {
  type Attributes,
  createTraceState,
  type HrTime,
  type Link,
  type SpanContext,
  type SpanKind,
  type SpanStatus,
} from "@opentelemetry/api";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace";
import type { Resource } from "@opentelemetry/resources";

/** A span context as plain data: the trace state as its header value. */
export interface ContextRecord {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  readonly isRemote?: boolean;
  readonly traceState?: string;
}

/** The instrumentation scope of a span. */
export interface ScopeRecord {
  readonly name: string;
  readonly version?: string;
  readonly schemaUrl?: string;
}

/** A finished span as plain data. */
export interface SpanRecord {
  readonly name: string;
  readonly kind: SpanKind;
  readonly context: ContextRecord;
  readonly parent?: ContextRecord;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly duration: HrTime;
  readonly status: SpanStatus;
  readonly attributes: Attributes;
  readonly links: readonly {
    readonly context: ContextRecord;
    readonly attributes?: Attributes;
    readonly droppedAttributesCount?: number;
  }[];
  readonly events: readonly TimedEvent[];
  readonly scope: ScopeRecord;
  readonly droppedAttributesCount: number;
  readonly droppedEventsCount: number;
  readonly droppedLinksCount: number;
}

function contextRecord(context: SpanContext): ContextRecord {
  const { traceId, spanId, traceFlags, isRemote, traceState } = context;
  const record: { -readonly [K in keyof ContextRecord]: ContextRecord[K] } = {
    traceId,
    spanId,
    traceFlags,
  };
  if (isRemote !== undefined) record.isRemote = isRemote;
  const state = traceState?.serialize();
  if (state) record.traceState = state;
  return record;
}

function spanContext(record: ContextRecord): SpanContext {
  const { traceState, ...rest } = record;
  return traceState === undefined ? rest : { ...rest, traceState: createTraceState(traceState) };
}

/** The record of a finished span (its resource travels once, not with every span). */
export function spanRecord(span: ReadableSpan): SpanRecord {
  const { name, version, schemaUrl } = span.instrumentationScope;
  return {
    name: span.name,
    kind: span.kind,
    context: contextRecord(span.spanContext()),
    parent: span.parentSpanContext && contextRecord(span.parentSpanContext),
    startTime: span.startTime,
    endTime: span.endTime,
    duration: span.duration,
    status: span.status,
    attributes: span.attributes,
    links: span.links.map((link) => ({
      context: contextRecord(link.context),
      attributes: link.attributes,
      droppedAttributesCount: link.droppedAttributesCount,
    })),
    events: span.events,
    scope: { name, version, schemaUrl },
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  };
}

/**
 * Turns records back into spans of `resource`. Spans of one scope share one scope object, as
 * spans of one tracer do: the serializers group spans by the identity of both.
 */
export class SpanRebuilder {
  readonly #resource: Resource;
  readonly #scopes = new Map<string, ScopeRecord>();

  constructor(resource: Resource) {
    this.#resource = resource;
  }

  /** The span a record describes. */
  span(record: SpanRecord): ReadableSpan {
    const context = spanContext(record.context);
    const links: Link[] = record.links.map((link) => ({
      context: spanContext(link.context),
      attributes: link.attributes,
      droppedAttributesCount: link.droppedAttributesCount,
    }));
    return {
      name: record.name,
      kind: record.kind,
      spanContext: () => context,
      parentSpanContext: record.parent && spanContext(record.parent),
      startTime: record.startTime,
      endTime: record.endTime,
      duration: record.duration,
      status: record.status,
      attributes: record.attributes,
      links,
      events: [...record.events],
      ended: true,
      resource: this.#resource,
      instrumentationScope: this.#scope(record.scope),
      droppedAttributesCount: record.droppedAttributesCount,
      droppedEventsCount: record.droppedEventsCount,
      droppedLinksCount: record.droppedLinksCount,
    };
  }

  #scope(scope: ScopeRecord): ScopeRecord {
    const key = `${scope.name}@${scope.version ?? ""}:${scope.schemaUrl ?? ""}`;
    let known = this.#scopes.get(key);
    if (!known) {
      known = scope;
      this.#scopes.set(key, known);
    }
    return known;
  }
}
