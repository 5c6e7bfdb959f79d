/** Usage records priced by the real price table, and a reader for the live event stream. */
import { INVALID_SPAN_CONTEXT, trace } from "@opentelemetry/api";
import type { Hono } from "hono";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { costOf, embeddedPriceTable } from "../../src/pricing/pricing.ts";
import { picoToUsd } from "../../src/pricing/money.ts";
import type { TenantDirectory } from "../../src/tenants/tenants.ts";
import { embeddedTenantDirectory } from "../../src/tenants/tenants.ts";
import type { RequestStatus } from "../../src/telemetry/names.ts";
import { reachedModel } from "../../src/usage/record.ts";
import { NO_USAGE, type UsageRecord } from "../../src/usage/record.ts";

const prices = embeddedPriceTable();

/** What a test request is made of; the rest is priced as the gateway prices it. */
export interface RecordSpec {
  readonly requestId: string;
  readonly tenant: string;
  readonly model: string;
  readonly input?: number;
  readonly cachedInput?: number;
  readonly cacheWrite?: number;
  readonly output?: number;
  readonly status?: RequestStatus;
  readonly errorType?: string;
}

/** A usage record as the gateway builds it: refused requests carry no usage and no cost. */
export function usageRecord(
  spec: RecordSpec,
  directory: TenantDirectory = embeddedTenantDirectory(),
): UsageRecord {
  const status = spec.status ?? "ok";
  const price = prices.resolve(spec.model);
  const reached = reachedModel({ status });
  const usage = reached
    ? {
      inputTokens: spec.input ?? 0,
      cachedInputTokens: spec.cachedInput ?? 0,
      cacheWriteTokens: spec.cacheWrite ?? 0,
      outputTokens: spec.output ?? 0,
    }
    : NO_USAGE;
  const costPico = price && reached ? costOf(price, usage).totalPico : null;
  return {
    requestId: spec.requestId,
    span: trace.wrapSpanContext(INVALID_SPAN_CONTEXT),
    operation: "chat",
    route: "/v1/chat/completions",
    finishedAt: new Date(),
    provider: price?.provider ?? "simulated",
    requestModel: spec.model,
    price,
    modelLabel: price?.id ?? "unknown",
    tenant: directory.byRequestedId(spec.tenant),
    usage,
    usageSource: reached ? "provider" : "estimated",
    tokenCountMethod: "exact",
    costPico,
    priceTier: null,
    costUsd: costPico === null ? null : picoToUsd(costPico),
    durationSeconds: 0.02,
    status,
    errorType: spec.errorType,
  };
}

/** One frame of the event stream. */
export interface Frame {
  readonly event: string;
  readonly id?: string;
  // deno-lint-ignore no-explicit-any -- test reads of arbitrary JSON bodies
  readonly data: any;
}

/** An open event stream read frame by frame. */
export interface StreamReader {
  readonly response: Response;
  /** The next frame (comments are counted, not returned); fails after `timeoutMs`. */
  next(timeoutMs?: number): Promise<Frame>;
  /** Comment lines seen so far (heartbeats). */
  readonly comments: string[];
  close(): Promise<void>;
}

/** Opens `/live/events` on an in-process app and parses what it sends. */
export async function openStream(
  app: Hono,
  headers: Record<string, string> = {},
  path = "/live/events",
): Promise<StreamReader> {
  const response = await app.request(path, { headers });
  const frames: Frame[] = [];
  const comments: string[] = [];
  let wake: () => void = () => {};
  const parser = createParser({
    onEvent: (message: EventSourceMessage) => {
      frames.push({
        event: message.event ?? "message",
        id: message.id,
        data: JSON.parse(message.data),
      });
      wake();
    },
    onComment: (comment) => {
      comments.push(comment.trim());
      wake();
    },
  });
  const reader = response.body?.pipeThrough(new TextDecoderStream()).getReader();
  let ended = false;
  const pump = (async () => {
    if (!reader) return;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
    } catch { /* cancelled */ }
    ended = true;
    wake();
  })();
  return {
    response,
    comments,
    async next(timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (frames.length === 0) {
        if (ended) throw new Error("stream ended");
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, left);
        });
        clearTimeout(timer);
      }
      return frames.shift()!;
    },
    async close() {
      await reader?.cancel().catch(() => {});
      await pump;
    },
  };
}
