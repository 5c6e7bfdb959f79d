/**
 * One request's life as the cost path sees it: open the span, admit (price known, budget
 * reserved), then finish with the usage or fail with an error. Finishing builds the single usage
 * record and hands it to every sink, settles the budget and ends the span, exactly once.
 */
import { isSpanContextValid, type Span, type Tracer } from "@opentelemetry/api";
import {
  costOf,
  type ModelPrice,
  type PriceTable,
  type TokenUsage,
  worstCaseCostPico,
} from "../pricing/pricing.ts";
import { formatUsd, picoToUsd } from "../pricing/money.ts";
import type { Tenant } from "../tenants/tenants.ts";
import { OTHER_TENANT } from "../tenants/tenants.ts";
import type { BudgetStore, Remaining, Reservation } from "../budgets/store.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { recordToMetrics } from "../telemetry/metrics_sink.ts";
import {
  exemplarTraceId,
  parentContext,
  recordToSpan,
  startRequestSpan,
} from "../telemetry/tracing.ts";
import {
  type RequestStatus,
  UNKNOWN_MODEL_LABEL,
  type UpstreamErrorKind,
} from "../telemetry/names.ts";
import { ApiError } from "../http/errors.ts";
import type { Logger } from "../log.ts";
import { NO_USAGE, type UsageRecord, type UsageSource } from "./record.ts";

/** What a call needs from the app. */
export interface CallServices {
  readonly prices: PriceTable;
  readonly budgets: BudgetStore;
  readonly metrics: Metrics;
  readonly tracer: Tracer;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Monotonic milliseconds. */
  readonly clockMs: () => number;
}

/** How a call ends successfully or with partial output. */
export interface Outcome {
  readonly usage: TokenUsage;
  readonly usageSource: UsageSource;
  readonly tokenCountMethod: "exact" | "estimated";
  readonly status?: RequestStatus;
  readonly errorType?: string;
  readonly responseModel?: string;
  readonly timeToFirstTokenSeconds?: number;
}

/** One request in flight. */
export class InferenceCall {
  readonly span: Span;
  readonly startedMs: number;
  requestModel = "";
  price?: ModelPrice;
  tenant?: Tenant;
  maxTokens?: number;
  provider = "simulated";
  /** How the upstream call failed, when it did; counted in `inference_upstream_errors_total`. */
  upstreamErrorKind?: UpstreamErrorKind;
  private reservation?: Reservation;
  /** Remaining budget per limited window after this call's reservation. */
  remaining: Remaining[] = [];
  private done = false;
  #markClosed!: () => void;
  /** Resolves once the call is finished or failed (a stream may end after its handler returned). */
  readonly closed: Promise<void> = new Promise((resolve) => this.#markClosed = resolve);

  constructor(
    private readonly services: CallServices,
    readonly requestId: string,
    readonly operation: "text_completion" | "chat",
    traceparent: string | null | undefined,
  ) {
    this.startedMs = services.clockMs();
    this.span = startRequestSpan(services.tracer, parentContext(traceparent));
    services.metrics.inFlight.inc();
  }

  /** True once the call has been finished or failed. */
  get isClosed(): boolean {
    return this.done;
  }

  /** Seconds since the call started. */
  elapsedSeconds(): number {
    return (this.services.clockMs() - this.startedMs) / 1000;
  }

  /**
   * Reserves the worst-case cost in the tenant's budgets. Throws `budget_exceeded` (429) with the
   * window, limit, spend and reset time when any window would be crossed.
   */
  async reserve(inputTokens: number, maxOutputTokens: number): Promise<void> {
    if (!this.price || !this.tenant) return;
    const amount = worstCaseCostPico(this.price, inputTokens, maxOutputTokens);
    let result;
    try {
      result = await this.services.budgets.reserve(this.tenant, amount, this.services.now());
    } catch (error) {
      // A store that cannot be reached (Redis down) fails closed: nothing runs unbudgeted, and
      // the client is told to retry rather than shown an internal error.
      this.services.logger.warn("budget store unavailable", {
        request_id: this.requestId,
        error: error instanceof Error ? error.message : String(error),
      });
      throw new ApiError(
        "budget_unavailable",
        "budgets cannot be checked right now; retry shortly",
        {},
        { "Retry-After": "1" },
      );
    }
    if (!result.ok) {
      const { exceeded } = result;
      const retryAfter = Math.max(
        1,
        Math.ceil((exceeded.resetsAt.getTime() - this.services.now().getTime()) / 1000),
      );
      throw new ApiError(
        "budget_exceeded",
        `tenant "${this.tenant.id}" would exceed its ${exceeded.window}ly budget of $${
          formatUsd(exceeded.limitPico)
        } (spent or reserved: $${formatUsd(exceeded.spentPico)}; this request may cost up to $${
          formatUsd(amount)
        })`,
        {
          scope: this.tenant.id === OTHER_TENANT ? "tenant:other" : `tenant:${this.tenant.id}`,
          window: exceeded.window,
          limit_usd: picoToUsd(exceeded.limitPico),
          spent_usd: picoToUsd(exceeded.spentPico),
          resets_at: exceeded.resetsAt.toISOString(),
        },
        { "Retry-After": String(retryAfter) },
      );
    }
    this.reservation = result.reservation;
    this.remaining = result.remaining;
  }

  /** Ends the call with the tokens it consumed; returns the one usage record. */
  async finish(outcome: Outcome): Promise<UsageRecord> {
    const costPico = this.price ? costOf(this.price, outcome.usage).totalPico : null;
    const record = this.record({
      usage: outcome.usage,
      usageSource: outcome.usageSource,
      tokenCountMethod: outcome.tokenCountMethod,
      costPico,
      costUsd: costPico === null ? null : picoToUsd(costPico),
      status: outcome.status ?? "ok",
      errorType: outcome.errorType,
      responseModel: outcome.responseModel,
      timeToFirstTokenSeconds: outcome.timeToFirstTokenSeconds,
    });
    await this.close(record, costPico ?? 0n);
    return record;
  }

  /** Ends the call refused or failed before any token was consumed. */
  async fail(error: ApiError): Promise<UsageRecord> {
    const record = this.record({
      usage: NO_USAGE,
      usageSource: "estimated",
      tokenCountMethod: "estimated",
      costPico: null,
      costUsd: null,
      status: error.requestStatus,
      errorType: error.type,
    });
    await this.close(record, 0n);
    return record;
  }

  private record(
    part: Omit<
      UsageRecord,
      | "requestId"
      | "operation"
      | "provider"
      | "requestModel"
      | "price"
      | "modelLabel"
      | "tenant"
      | "maxTokens"
      | "durationSeconds"
      | "upstreamErrorKind"
    >,
  ): UsageRecord {
    return {
      requestId: this.requestId,
      operation: this.operation,
      provider: this.provider,
      requestModel: this.requestModel,
      price: this.price,
      modelLabel: this.price?.id ?? UNKNOWN_MODEL_LABEL,
      tenant: this.tenant ?? OTHER_TENANT_PLACEHOLDER,
      maxTokens: this.maxTokens,
      durationSeconds: this.elapsedSeconds(),
      upstreamErrorKind: this.upstreamErrorKind,
      ...part,
    };
  }

  private async close(record: UsageRecord, actualPico: bigint): Promise<void> {
    if (this.done) return;
    this.done = true;
    const { metrics, logger } = this.services;
    metrics.inFlight.dec();
    try {
      if (this.reservation) await this.services.budgets.settle(this.reservation, actualPico);
    } catch (error) {
      logger.error("budget settle failed", {
        request_id: this.requestId,
        error: (error as Error).message,
      });
    }
    recordToMetrics(metrics, record, exemplarTraceId(this.span));
    recordToSpan(this.span, record, this.services.prices.version);
    this.span.end();
    logger.info("request", {
      request_id: record.requestId,
      tenant: record.tenant.id,
      model: record.modelLabel,
      status: record.status,
      input_tokens: record.usage.inputTokens,
      output_tokens: record.usage.outputTokens,
      cost_usd: record.costUsd,
      duration_ms: Math.round(record.durationSeconds * 1000),
      // A no-op span (tracing off) has the all-zero id, which would only mislead a reader.
      trace_id: isSpanContextValid(this.span.spanContext())
        ? this.span.spanContext().traceId
        : undefined,
      provider: record.provider,
      usage_source: record.usageSource,
      ...(record.upstreamErrorKind ? { upstream_error_kind: record.upstreamErrorKind } : {}),
    });
    this.#markClosed();
  }
}

/** The tenant of a call that failed before its tenant was known (e.g. a bad API key). */
const OTHER_TENANT_PLACEHOLDER: Tenant = {
  id: OTHER_TENANT,
  hourlyAlertThresholdUsd: 0,
  budgetsPico: {},
};
