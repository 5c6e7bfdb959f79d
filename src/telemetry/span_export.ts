/**
 * Span export off the event loop. Serializing a span to OTLP protobuf took ~25 µs of the server's
 * event loop per span (20 % of the CPU of a traced `/v1/inference`); here the server only turns
 * each finished, sampled span into a compact record (span_records.ts) and hands records to a
 * worker thread (span_worker.ts) in small groups, where the SDK's BatchSpanProcessor and OTLP
 * exporter run with the same settings (OTEL_BSP_*, OTEL_EXPORTER_OTLP_*) as they would in-process.
 *
 * Messages to the worker: `start` with the settings, then groups of records as JSON text
 * (span_records.ts says why text), `flush` with an id, answered `{ flushed: id }` once every span
 * handed over before it has been exported (or its export failed), and at last `shutdown`, answered
 * `closed` likewise.
 */
import type { Context } from "@opentelemetry/api";
import type { ReadableSpan, Span, SpanProcessor } from "@opentelemetry/sdk-trace";
import type { OtlpProtocol } from "./otlp_exporter.ts";
import { encodeRecords, type SpanRecord, toRecord } from "./span_records.ts";

/** What the worker is told. */
export type ToWorker =
  | {
    readonly type: "start";
    readonly serviceName: string;
    readonly protocol: OtlpProtocol;
    readonly batch: {
      readonly maxExportBatchSize: number;
      readonly scheduledDelayMs: number;
      readonly maxQueueSize: number;
    };
  }
  | { readonly type: "flush"; readonly id: number }
  | { readonly type: "shutdown" }
  | string;

/** What the worker answers. */
export type FromWorker = { readonly flushed: number } | "closed";

/**
 * Records handed over at once: one message per group, not per span. A message costs ~25 µs
 * whatever its size plus its copy, and each one wakes the worker's thread; measured, groups of 256
 * halved the hand-over's cost per span against groups of 32 (0.7 vs 1.3 µs).
 */
const GROUP = 256;
/**
 * The longest a record waits for its group to fill before it is handed over anyway: small beside
 * the batch processor's own wait (OTEL_BSP_SCHEDULE_DELAY, 1 s by default).
 */
const GROUP_WAIT_MS = 50;

/** A span processor that exports through the worker; its `shutdown` flushes and stops it. */
export class WorkerSpanProcessor implements SpanProcessor {
  readonly #worker: Worker;
  #group: SpanRecord[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed: Promise<void> | undefined;
  #onClosed: (() => void) | undefined;
  readonly #flushes = new Map<number, () => void>();
  #nextFlush = 0;

  constructor(settings: Omit<Extract<ToWorker, { type: "start" }>, "type">) {
    this.#worker = new Worker(new URL("./span_worker.ts", import.meta.url).href, {
      type: "module",
    });
    // A failure inside the worker costs spans, never the server: unhandled, it would end the
    // process. Nothing waits on a worker that is gone: flushes and the shutdown resolve, and
    // later spans are dropped.
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#closed ??= Promise.resolve();
      for (const resolve of this.#flushes.values()) resolve();
      this.#flushes.clear();
      this.#onClosed?.();
    };
    this.#worker.onmessage = (event: MessageEvent<FromWorker>) => this.#answered(event.data);
    this.#post({ type: "start", ...settings });
  }

  onStart(_span: Span, _context: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.#closed || (span.spanContext().traceFlags & 1) === 0) return;
    this.#group.push(toRecord(span));
    if (this.#group.length >= GROUP) this.#handOver();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#handOver(), GROUP_WAIT_MS);
    }
  }

  /** Hands over what is waiting and resolves once the worker has exported it (or failed to). */
  forceFlush(): Promise<void> {
    if (this.#closed) return this.#closed;
    this.#handOver();
    const id = this.#nextFlush++;
    return new Promise<void>((resolve) => {
      this.#flushes.set(id, resolve);
      this.#post({ type: "flush", id });
    });
  }

  /** Hands over the last records and waits until the worker has exported them, then stops it. */
  shutdown(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#handOver();
      this.#onClosed = resolve;
      this.#post({ type: "shutdown" });
    }).finally(() => this.#worker.terminate());
    return this.#closed;
  }

  /** Stops the worker at once, whatever it still holds (after a shutdown that took too long). */
  terminate(): void {
    this.#worker.terminate();
  }

  #answered(answer: FromWorker): void {
    if (answer === "closed") {
      this.#onClosed?.();
      return;
    }
    this.#flushes.get(answer.flushed)?.();
    this.#flushes.delete(answer.flushed);
  }

  #handOver(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#group.length === 0) return;
    this.#post(encodeRecords(this.#group));
    this.#group = [];
  }

  #post(message: ToWorker): void {
    this.#worker.postMessage(message);
  }
}
