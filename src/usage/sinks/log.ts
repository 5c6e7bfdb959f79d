/** The log sink: one `request` line per request, with the numbers and no prompt text. */
import { traceIdOf } from "../../telemetry/tracing.ts";
import type { Logger } from "../../log.ts";
import type { UsageSink } from "./sink.ts";

/** A sink that logs each record at `info`. */
export function logSink(logger: Logger): UsageSink {
  return {
    name: "log",
    record(record) {
      logger.info("request", {
        request_id: record.requestId,
        tenant: record.tenant.id,
        model: record.modelLabel,
        status: record.status,
        input_tokens: record.usage.inputTokens,
        output_tokens: record.usage.outputTokens,
        cost_usd: record.costUsd,
        duration_ms: Math.round(record.durationSeconds * 1000),
        trace_id: traceIdOf(record.span),
        provider: record.provider,
        usage_source: record.usageSource,
        ...(record.upstreamErrorKind ? { upstream_error_kind: record.upstreamErrorKind } : {}),
      });
    },
  };
}
