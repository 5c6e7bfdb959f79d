/**
 * The span sink: writes the usage record onto the request's span as GenAI semantic-convention
 * attributes and the cost, then ends the span. Prompt and reply text are added only when the
 * record carries them (TRACE_CONTENT=true).
 */
import { SpanStatusCode } from "@opentelemetry/api";
import { ATTR } from "../../telemetry/names.ts";
import type { UsageRecord } from "../record.ts";
import type { UsageSink } from "./sink.ts";

/** A sink that writes each record onto its span; `pricingVersion` labels every cost. */
export function spanSink(pricingVersion: string): UsageSink {
  return {
    name: "span",
    record(record) {
      writeToSpan(record, pricingVersion);
      record.span.end();
    },
  };
}

function writeToSpan(record: UsageRecord, pricingVersion: string): void {
  const { span } = record;
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
  const { usage } = record;
  if (usage.cacheWriteTokens > 0) {
    span.setAttribute(ATTR.usageCacheWriteTokens, usage.cacheWriteTokens);
  }
  if (usage.cacheWrite1hTokens) {
    span.setAttribute(ATTR.usageCacheWrite1hTokens, usage.cacheWrite1hTokens);
  }
  if (usage.reasoningTokens) span.setAttribute(ATTR.usageReasoningTokens, usage.reasoningTokens);
  if (usage.serviceTier) span.setAttribute(ATTR.serviceTier, usage.serviceTier);
  if (record.costUsd !== null) {
    span.setAttributes({
      [ATTR.costUsd]: record.costUsd,
      [ATTR.costAmount]: record.costUsd,
      [ATTR.costCurrency]: "USD",
      // `local`: this price table applied to the tokens. `provider` would be a provider's own
      // billed figure, which none of the routed APIs reports.
      [ATTR.costSource]: "local",
    });
  }
  if (record.priceTier !== null) span.setAttribute(ATTR.priceTier, record.priceTier);
  if (record.content?.prompt !== undefined) span.setAttribute(ATTR.prompt, record.content.prompt);
  if (record.content?.completion !== undefined) {
    span.setAttribute(ATTR.completion, record.content.completion);
  }
  if (record.status === "ok") {
    span.setStatus({ code: SpanStatusCode.OK });
  } else {
    if (record.errorType) span.setAttribute(ATTR.errorType, record.errorType);
    span.setStatus({ code: SpanStatusCode.ERROR, message: record.errorType ?? record.status });
  }
}
