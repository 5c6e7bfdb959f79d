/**
 * Span helpers: one `inference_request` span per request (the usage sinks write its GenAI
 * semantic-convention attributes and the cost). The tracer is passed in (Deno's built-in OpenTelemetry in production,
 * an SDK with an in-memory exporter in tests), never a global the code reaches for.
 */
import {
  type Context,
  context,
  INVALID_TRACEID,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { SPAN_NAME } from "./names.ts";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The parent of a request's span: the active context when a span is already active (Deno's
 * automatic HTTP span, which has read `traceparent` itself), else the W3C `traceparent` header.
 */
export function parentContext(traceparent: string | null | undefined): Context {
  const active = context.active();
  if (trace.getSpan(active)) return active;
  const match = traceparent ? TRACEPARENT.exec(traceparent.trim()) : null;
  if (!match || /^0+$/.test(match[1]) || /^0+$/.test(match[2])) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: match[1],
    spanId: match[2],
    traceFlags: parseInt(match[3], 16) & 1,
    isRemote: true,
  });
}

/** Starts the request's span as a server span under `parent`. */
export function startRequestSpan(tracer: Tracer, parent: Context): Span {
  return tracer.startSpan(SPAN_NAME, { kind: SpanKind.SERVER }, parent);
}

/**
 * The span's trace id, or undefined for a no-op span (tracing off), whose all-zero id would only
 * mislead a reader. The comparison comes before the validity check's hex scans, which cost about
 * a microsecond a call on every request with tracing off.
 */
export function traceIdOf(span: Span): string | undefined {
  const ctx = span.spanContext();
  return ctx.traceId !== INVALID_TRACEID && isSpanContextValid(ctx) ? ctx.traceId : undefined;
}

/** The trace id to attach as an exemplar, or undefined when the span is not sampled. */
export function exemplarTraceId(span: Span): string | undefined {
  const ctx = span.spanContext();
  return ctx.traceFlags & 1 ? ctx.traceId : undefined;
}
