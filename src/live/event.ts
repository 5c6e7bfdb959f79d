/**
 * One finished request as the live page shows it, built from the usage record that every other
 * sink reads, so the page's numbers are the metrics' and the response body's. Carries no prompt
 * or reply text and no key: only ids, counts, the cost and the outcome.
 */
import { reachedModel } from "../usage/record.ts";
import type { UsageRecord } from "../usage/record.ts";

/** Token counts by kind. `input` includes cached input and cache writes; `output` includes reasoning. */
export interface LiveTokens {
  readonly input: number;
  readonly cachedInput: number;
  readonly cacheWrite: number;
  readonly output: number;
  readonly reasoning: number;
}

/** One finished request on the live page. */
export interface LiveEvent {
  /** When the request finished. */
  readonly time: Date;
  /** The `x-request-id` of the response. */
  readonly requestId: string;
  /** The tenant as billed (`other` for an unknown demo-mode id, as in the metrics). */
  readonly tenant: string;
  /** The priced model id, or `unknown`: the metrics' `model` label. */
  readonly model: string;
  /** The HTTP route that served it, e.g. `/v1/chat/completions`. */
  readonly route: string;
  readonly tokens: LiveTokens;
  /** Exact cost in picodollars; null when the model has no price or nothing was billed. */
  readonly costPico: bigint | null;
  readonly status: string;
  /** The request reached a model that has no price: tokens were spent, no cost is known. */
  readonly unpriced: boolean;
  /** Where the token counts came from: `provider` or `estimated`. */
  readonly usageSource: string;
  readonly traceId?: string;
  readonly errorType?: string;
}

/** The fields of a usage record the page reads. */
export type LiveRecordSource = Pick<
  UsageRecord,
  | "requestId"
  | "tenant"
  | "modelLabel"
  | "route"
  | "usage"
  | "costPico"
  | "status"
  | "usageSource"
  | "errorType"
>;

/** What the sink knows beside the record: the finish time and the trace id. */
export interface LiveEventContext {
  readonly time: Date;
  /** The request span's trace id when it was sampled; an all-zero id counts as none. */
  readonly traceId?: string;
}

const NO_TRACE = /^0*$/;

/** Builds the page's event for one usage record. */
export function liveEventFromRecord(
  record: LiveRecordSource,
  context: LiveEventContext,
): LiveEvent {
  const { usage } = record;
  return {
    time: context.time,
    requestId: record.requestId,
    tenant: record.tenant.id,
    model: record.modelLabel,
    route: record.route,
    tokens: {
      input: usage.inputTokens,
      cachedInput: usage.cachedInputTokens,
      cacheWrite: usage.cacheWriteTokens,
      output: usage.outputTokens,
      reasoning: usage.reasoningTokens ?? 0,
    },
    costPico: record.costPico,
    status: record.status,
    // The same rule as `inference_unpriced_requests_total`: a model was reached and has no price.
    unpriced: record.costPico === null && reachedModel(record),
    usageSource: record.usageSource,
    traceId: context.traceId && !NO_TRACE.test(context.traceId) ? context.traceId : undefined,
    errorType: record.errorType,
  };
}
