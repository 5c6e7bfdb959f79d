/**
 * One request's life as the cost path sees it: open the span, hold the budget reservation that
 * admission made, then finish with the usage or fail with a status. Finishing builds the single
 * usage record, settles the budget and hands the record to every sink, exactly once. Nothing here
 * knows about HTTP: admission (src/gateway/admission.ts) turns refusals into HTTP errors.
 */
import type { Span, Tracer } from "@opentelemetry/api";
import { costOf, type ModelPrice, type PriceTable, type TokenUsage } from "../pricing/pricing.ts";
import { picoToUsd } from "../pricing/money.ts";
import type { Tenant } from "../tenants/tenants.ts";
import { OTHER_TENANT } from "../tenants/tenants.ts";
import type { BudgetStore, Remaining, Reservation } from "../budgets/store.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { parentContext, startRequestSpan } from "../telemetry/tracing.ts";
import {
  type RequestStatus,
  UNKNOWN_MODEL_LABEL,
  type UpstreamErrorKind,
} from "../telemetry/names.ts";
import type { Logger } from "../log.ts";
import {
  NO_USAGE,
  type Operation,
  type UsageContent,
  type UsageRecord,
  type UsageSource,
} from "./record.ts";
import type { UsageSink } from "./sinks/sink.ts";

/** What a call needs from the app. */
export interface CallServices {
  readonly prices: PriceTable;
  readonly budgets: BudgetStore;
  readonly metrics: Metrics;
  readonly tracer: Tracer;
  readonly logger: Logger;
  /** Every consumer of the finished call's usage record, in order (see sinks/sink.ts). */
  readonly sinks: readonly UsageSink[];
  /** TRACE_CONTENT: whether prompt and reply text go into the record (and so the span). */
  readonly traceContent: boolean;
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
  /** The text generated, as far as it got; kept in the record only when TRACE_CONTENT=true. */
  readonly completion?: string;
}

/** How a call ends refused or failed before any token was consumed. */
export interface Failure {
  readonly status: RequestStatus;
  /** The documented error type. */
  readonly errorType: string;
}

/** One request in flight. */
export class InferenceCall {
  readonly span: Span;
  readonly startedMs: number;
  requestModel = "";
  price?: ModelPrice;
  tenant?: Tenant;
  /** The authenticating API key's name, once known (never the key). */
  keyName?: string;
  /** The end user the request body named, once parsed. */
  endUser?: string;
  maxTokens?: number;
  provider = "simulated";
  /** How the upstream call failed, when it did; counted in `inference_upstream_errors_total`. */
  upstreamErrorKind?: UpstreamErrorKind;
  /** The prompt text, set only when {@link keepsContent}; it reaches the span through the record. */
  prompt?: string;
  #reservation?: Reservation;
  /** Remaining budget per limited window after this call's reservation. */
  remaining: readonly Remaining[] = [];
  #done = false;
  #markClosed!: () => void;
  /** Resolves once the call is finished or failed (a stream may end after its handler returned). */
  readonly closed: Promise<void> = new Promise((resolve) => this.#markClosed = resolve);

  constructor(
    private readonly services: CallServices,
    readonly requestId: string,
    readonly operation: Operation,
    /** The HTTP route, e.g. `/v1/chat/completions`. */
    readonly route: string,
    traceparent: string | null | undefined,
  ) {
    this.startedMs = services.clockMs();
    this.span = startRequestSpan(services.tracer, parentContext(traceparent));
    services.metrics.inFlight.inc();
  }

  /** True once the call has been finished or failed. */
  get isClosed(): boolean {
    return this.#done;
  }

  /** True when prompt and reply text are recorded (TRACE_CONTENT=true). */
  get keepsContent(): boolean {
    return this.services.traceContent;
  }

  /** Seconds since the call started. */
  elapsedSeconds(): number {
    return (this.services.clockMs() - this.startedMs) / 1000;
  }

  /** Holds the budget reservation admission made; it is settled to the actual cost at the end. */
  hold(reservation: Reservation, remaining: readonly Remaining[]): void {
    this.#reservation = reservation;
    this.remaining = remaining;
  }

  /** Ends the call with the tokens it consumed; returns the one usage record. */
  async finish(outcome: Outcome): Promise<UsageRecord> {
    const cost = this.price ? costOf(this.price, outcome.usage) : undefined;
    const costPico = cost?.totalPico ?? null;
    const record = this.record({
      usage: outcome.usage,
      usageSource: outcome.usageSource,
      tokenCountMethod: outcome.tokenCountMethod,
      costPico,
      costUsd: costPico === null ? null : picoToUsd(costPico),
      priceTier: cost?.priceTier ?? null,
      status: outcome.status ?? "ok",
      errorType: outcome.errorType,
      responseModel: outcome.responseModel,
      timeToFirstTokenSeconds: outcome.timeToFirstTokenSeconds,
    }, outcome.completion);
    await this.close(record, costPico ?? 0n);
    return record;
  }

  /** Ends the call refused or failed before any token was consumed. */
  async fail(failure: Failure): Promise<UsageRecord> {
    const record = this.record({
      usage: NO_USAGE,
      usageSource: "estimated",
      tokenCountMethod: "estimated",
      costPico: null,
      costUsd: null,
      priceTier: null,
      status: failure.status,
      errorType: failure.errorType,
    });
    await this.close(record, 0n);
    return record;
  }

  private record(
    part: Omit<
      UsageRecord,
      | "requestId"
      | "operation"
      | "route"
      | "finishedAt"
      | "provider"
      | "requestModel"
      | "price"
      | "modelLabel"
      | "tenant"
      | "keyName"
      | "endUser"
      | "maxTokens"
      | "durationSeconds"
      | "upstreamErrorKind"
      | "span"
      | "content"
    >,
    completion?: string,
  ): UsageRecord {
    return {
      requestId: this.requestId,
      operation: this.operation,
      route: this.route,
      finishedAt: this.services.now(),
      provider: this.provider,
      requestModel: this.requestModel,
      price: this.price,
      modelLabel: this.price?.id ?? UNKNOWN_MODEL_LABEL,
      tenant: this.tenant ?? OTHER_TENANT_PLACEHOLDER,
      keyName: this.keyName,
      endUser: this.endUser,
      maxTokens: this.maxTokens,
      durationSeconds: this.elapsedSeconds(),
      upstreamErrorKind: this.upstreamErrorKind,
      span: this.span,
      content: this.content(completion),
      ...part,
    };
  }

  private content(completion: string | undefined): UsageContent | undefined {
    if (!this.services.traceContent) return undefined;
    if (this.prompt === undefined && completion === undefined) return undefined;
    return { prompt: this.prompt, completion };
  }

  private async close(record: UsageRecord, actualPico: bigint): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    const { metrics, logger } = this.services;
    metrics.inFlight.dec();
    try {
      if (this.#reservation) await this.services.budgets.settle(this.#reservation, actualPico);
    } catch (error) {
      logger.error("budget settle failed", {
        request_id: this.requestId,
        error: (error as Error).message,
      });
    }
    // Sinks that return nothing cost no await; durable ones are awaited together.
    let pending: Promise<void>[] | undefined;
    for (const sink of this.services.sinks) {
      try {
        const written = sink.record(record);
        if (written) (pending ??= []).push(written.catch((e) => this.sinkFailed(sink.name, e)));
      } catch (error) {
        this.sinkFailed(sink.name, error);
      }
    }
    if (pending) await (pending.length === 1 ? pending[0] : Promise.all(pending));
    this.#markClosed();
  }

  private sinkFailed(sink: string, error: unknown): void {
    this.services.logger.error("usage sink failed", {
      request_id: this.requestId,
      sink,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

/** The tenant of a call that failed before its tenant was known (e.g. a bad API key). */
const OTHER_TENANT_PLACEHOLDER: Tenant = {
  id: OTHER_TENANT,
  hourlyAlertThresholdUsd: 0,
  budgetsPico: {},
};
