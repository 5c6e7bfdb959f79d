/**
 * Span helpers: one `inference_request` span per request, carrying GenAI semantic-convention
 * attributes and the cost. The tracer is passed in (Deno's built-in OpenTelemetry in production,
 * an SDK with an in-memory exporter in tests), never a global the code reaches for.
 */
import {
  type Context,
  context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { ATTR, SPAN_NAME } from "./names.ts";
import type { UsageRecord } from "../usage/record.ts";

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

/** The trace id to attach as an exemplar, or undefined when the span is not sampled. */
export function exemplarTraceId(span: Span): string | undefined {
  const ctx = span.spanContext();
  return ctx.traceFlags & 1 ? ctx.traceId : undefined;
}

/** Writes the record onto the span and sets its status. Prompt text is never added here. */
export function recordToSpan(span: Span, record: UsageRecord, pricingVersion: string): void {
  // An unsampled span records nothing: skip building its attributes (hot path when sampling).
  if (!span.isRecording()) return;
  span.setAttributes({
    [ATTR.operationName]: record.operation,
    [ATTR.providerName]: record.provider,
    [ATTR.requestModel]: record.requestModel,
    [ATTR.tenant]: record.tenant.id,
    [ATTR.pricingVersion]: pricingVersion,
    [ATTR.status]: record.status,
    [ATTR.usageSource]: record.usageSource,
    [ATTR.tokenCountMethod]: record.tokenCountMethod,
    [ATTR.usageInputTokens]: record.usage.inputTokens,
    [ATTR.usageOutputTokens]: record.usage.outputTokens,
  });
  if (record.responseModel) span.setAttribute(ATTR.responseModel, record.responseModel);
  if (record.maxTokens !== undefined) span.setAttribute(ATTR.requestMaxTokens, record.maxTokens);
  if (record.usage.cachedInputTokens > 0) {
    span.setAttribute(ATTR.usageCachedInputTokens, record.usage.cachedInputTokens);
  }
  if (record.usage.cacheWriteTokens > 0) {
    span.setAttribute(ATTR.usageCacheWriteTokens, record.usage.cacheWriteTokens);
  }
  if (record.costUsd !== null) span.setAttribute(ATTR.costUsd, record.costUsd);
  if (record.status === "ok") {
    span.setStatus({ code: SpanStatusCode.OK });
  } else {
    if (record.errorType) span.setAttribute(ATTR.errorType, record.errorType);
    span.setStatus({ code: SpanStatusCode.ERROR, message: record.errorType ?? record.status });
  }
}
