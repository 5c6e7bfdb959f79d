/**
 * The metrics sink: turns a usage record into metric updates. Refused requests move only
 * `inference_requests_total`.
 */
import { reachedModel, type UsageRecord } from "../record.ts";
import type { Metrics } from "../../telemetry/metrics.ts";
import { exemplarTraceId } from "../../telemetry/tracing.ts";
import type { UsageSink } from "./sink.ts";

/** A sink that counts each record into `metrics`. */
export function metricsSink(metrics: Metrics): UsageSink {
  return { name: "metrics", record: (record) => recordToMetrics(metrics, record) };
}

/** Records one request; a sampled span's trace id becomes the exemplar on the two histograms. */
function recordToMetrics(metrics: Metrics, record: UsageRecord): void {
  const traceId = exemplarTraceId(record.span);
  const model = record.modelLabel;
  const tenant = record.tenant.id;
  metrics.requests.inc({ model, tenant, status: record.status });
  if (record.upstreamErrorKind) {
    metrics.upstreamErrors.inc({ provider: record.provider, kind: record.upstreamErrorKind });
  }
  if (!reachedModel(record)) return;

  const { usage } = record;
  const pair = { model, tenant };
  if (usage.inputTokens > 0) metrics.inputTokens.inc(pair, usage.inputTokens);
  if (usage.outputTokens > 0) metrics.outputTokens.inc(pair, usage.outputTokens);
  if (usage.cachedInputTokens > 0) metrics.cachedInputTokens.inc(pair, usage.cachedInputTokens);

  // prom-client types exemplar labels as the metric's own label names; they are free-form.
  const exemplarLabels = (traceId ? { trace_id: traceId } : undefined) as
    | Record<"model", string>
    | undefined;
  metrics.requestDuration.observe({
    labels: { model },
    value: record.durationSeconds,
    exemplarLabels,
  });
  if (record.timeToFirstTokenSeconds !== undefined) {
    metrics.timeToFirstToken.observe({ model }, record.timeToFirstTokenSeconds);
  }
  if (record.costUsd === null) {
    metrics.unpricedRequests.inc({ tenant });
    return;
  }
  metrics.costUsd.inc(pair, record.costUsd);
  // A failed request that consumed nothing is not a "request that cost $0": keep it out of the
  // cost distribution so it does not drag the percentiles down.
  if (record.status !== "ok" && record.costPico === 0n) return;
  metrics.costPerRequest.observe({ labels: { model }, value: record.costUsd, exemplarLabels });
}
