/** The log sink: one `request` line per request, with the numbers and no prompt text. */
import { INVALID_TRACEID, isSpanContextValid } from "@opentelemetry/api";
import type { Logger } from "../../log.ts";
import type { UsageSink } from "./sink.ts";

/** A sink that logs each record at `info`. */
export function logSink(logger: Logger): UsageSink {
  return {
    name: "log",
    record(record) {
      const spanContext = record.span.spanContext();
      logger.info("request", {
        request_id: record.requestId,
        tenant: record.tenant.id,
        model: record.modelLabel,
        status: record.status,
        input_tokens: record.usage.inputTokens,
        output_tokens: record.usage.outputTokens,
        cost_usd: record.costUsd,
        duration_ms: Math.round(record.durationSeconds * 1000),
        // A no-op span (tracing off) has the all-zero id, which would only mislead a reader; it is
        // told apart by a comparison before the validity check's hex scan.
        trace_id: spanContext.traceId !== INVALID_TRACEID && isSpanContextValid(spanContext)
          ? spanContext.traceId
          : undefined,
        provider: record.provider,
        usage_source: record.usageSource,
        ...(record.upstreamErrorKind ? { upstream_error_kind: record.upstreamErrorKind } : {}),
      });
    },
  };
}
