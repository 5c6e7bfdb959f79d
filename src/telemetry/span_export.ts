/**
 * Span export off the event loop. Turning spans into OTLP (protobuf or JSON) and sending them
 * cost the request path about a quarter of its CPU when every request is traced
 * (docs/benchmarks.md), so the SDK's batch processor and OTLP exporter run in a worker
 * (span_worker.ts), with the same OTEL_BSP_* settings and OTEL_EXPORTER_OTLP_* variables. The
 * request path only copies each finished, sampled span into a plain record (span_records.ts) and
 * posts them to the worker a batch at a time. Flushing and shutting down wait for the worker's
 * processor to have sent what it holds.
 */
import { type Attributes, TraceFlags } from "@opentelemetry/api";
import {
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { OTLPExporterBase } from "@opentelemetry/otlp-exporter-base";
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from "@opentelemetry/otlp-exporter-base/node-http";
import {
  JsonTraceSerializer,
  ProtobufTraceSerializer,
  TraceExporterMetricsHelper,
} from "@opentelemetry/otlp-transformer";
import type { Config, OTLP_PROTOCOLS } from "../config.ts";
import { SpanRebuilder, type SpanRecord, spanRecord } from "./span_records.ts";

/** The batch processor's settings (OTEL_BSP_*). */
export type SpanBatchSettings = Config["spanBatch"];

/** The OTLP/HTTP encodings the exporter speaks. */
export type OtlpProtocol = typeof OTLP_PROTOCOLS[number];

/** An OTLP/HTTP span exporter in `protocol`, configured by the OTEL_EXPORTER_OTLP_* variables. */
export function otlpTraceExporter(protocol: OtlpProtocol): SpanExporter {
  const json = protocol === "http/json";
  const options = convertLegacyHttpOptions({}, "TRACES", "v1/traces", {
    "Content-Type": json ? "application/json" : "application/x-protobuf",
  });
  return new OTLPExporterBase<ReadableSpan[]>(
    createOtlpHttpExportDelegate(
      options,
      json ? JsonTraceSerializer : ProtobufTraceSerializer,
      "otlp_http_span_exporter",
      TraceExporterMetricsHelper,
      undefined,
    ),
  );
}

/** What the worker needs to export as the request path would have. */
export interface ExportSetup {
  readonly protocol: OtlpProtocol;
  readonly resource: { readonly attributes: Attributes; readonly schemaUrl?: string };
  readonly batch: SpanBatchSettings;
}

/**
 * Messages to the worker. Spans travel as JSON text: half the request path's cost of a
 * structured clone of the same records. A batch holding a number JSON cannot carry (NaN,
 * infinities, -0) goes as records instead.
 */
export type ToExporter =
  | { readonly type: "setup"; readonly setup: ExportSetup }
  | { readonly type: "spans"; readonly json: string }
  | { readonly type: "spans"; readonly spans: readonly SpanRecord[] }
  | { readonly type: "flush" | "shutdown"; readonly id: number };

/** The worker's answer to a flush or a shutdown: done. */
export interface FromExporter {
  readonly id: number;
}

/** One end of a message channel: a worker, the worker's own scope, a MessagePort. */
export interface MessageEnd {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
}

// Records wait at most this long on the request path before they go to the worker, unless a
// whole batch is ready first; the worker then batches as OTEL_BSP_SCHEDULE_DELAY says.
const POST_DELAY_MS = 25;

/** The request path's side: a span processor that hands finished spans to the export worker. */
export class WorkerSpanProcessor implements SpanProcessor {
  readonly #worker: MessageEnd;
  readonly #batch: SpanBatchSettings;
  readonly #stop: () => void;
  #pending: SpanRecord[] = [];
  /** A pending record holds a number JSON cannot carry. */
  #pendingUnsafe = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #nextId = 0;
  readonly #waiting = new Map<number, () => void>();
  #closed = false;

  /** Starts exporting through `worker`; `stop` ends it once it has shut down. */
  constructor(setup: ExportSetup, worker: MessageEnd, stop: () => void) {
    this.#worker = worker;
    this.#batch = setup.batch;
    this.#stop = stop;
    worker.onmessage = (event) => {
      const { id } = event.data as FromExporter;
      this.#waiting.get(id)?.();
      this.#waiting.delete(id);
    };
    worker.postMessage({ type: "setup", setup } satisfies ToExporter);
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this.#closed || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    // A full queue drops the span, as the SDK's batch processor does.
    if (this.#pending.length >= this.#batch.maxQueueSize) return;
    const record = spanRecord(span);
    if (!this.#pendingUnsafe && !jsonSafe(record)) this.#pendingUnsafe = true;
    this.#pending.push(record);
    if (this.#pending.length >= this.#batch.maxExportBatchSize) this.#post();
    else if (this.#timer === undefined) {
      const timer = setTimeout(() => this.#post(), POST_DELAY_MS);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /** Sends what waits, then waits for the worker to have exported everything it holds. */
  forceFlush(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#post();
    return this.#ask("flush");
  }

  /** The worker failed: spans are no longer taken, and no flush waits for it. */
  abandon(): void {
    this.#closed = true;
    this.#pending = [];
    clearTimeout(this.#timer);
    for (const resolve of this.#waiting.values()) resolve();
    this.#waiting.clear();
  }

  /** Flushes and ends the worker. */
  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#post();
    this.#closed = true;
    try {
      await this.#ask("shutdown");
    } finally {
      this.#stop();
    }
  }

  #post(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const message: ToExporter = this.#pendingUnsafe
      ? { type: "spans", spans: this.#pending }
      : { type: "spans", json: JSON.stringify(this.#pending) };
    this.#worker.postMessage(message);
    this.#pending = [];
    this.#pendingUnsafe = false;
  }

  #ask(type: "flush" | "shutdown"): Promise<void> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.#worker.postMessage({ type, id } satisfies ToExporter);
    });
  }
}

/**
 * The worker's side: the SDK's batch processor and `exporterFor`'s exporter (OTLP/HTTP unless a
 * test gives another) over the records that arrive on `end`.
 */
export function serveSpanExport(
  end: MessageEnd,
  exporterFor: (protocol: OtlpProtocol) => SpanExporter = otlpTraceExporter,
): void {
  let processor: BatchSpanProcessor | undefined;
  let rebuilder: SpanRebuilder | undefined;
  end.onmessage = async (event) => {
    const message = event.data as ToExporter;
    // Nothing here may throw out of the handler: an error escaping a worker would end the server.
    switch (message.type) {
      case "setup": {
        const { protocol, resource, batch } = message.setup;
        rebuilder = new SpanRebuilder(
          resourceFromAttributes(resource.attributes, { schemaUrl: resource.schemaUrl }),
        );
        processor = new BatchSpanProcessor({
          exporter: exporterFor(protocol),
          maxExportBatchSize: Math.min(batch.maxExportBatchSize, batch.maxQueueSize),
          scheduledDelayMillis: batch.scheduledDelayMs,
          maxQueueSize: batch.maxQueueSize,
        });
        return;
      }
      case "spans":
        try {
          const records: readonly SpanRecord[] = "json" in message
            ? JSON.parse(message.json)
            : message.spans;
          for (const record of records) processor?.onEnd(rebuilder!.span(record));
        } catch {
          // A batch that cannot be read is dropped, as a full queue drops spans.
        }
        return;
      case "flush":
        await processor?.forceFlush().catch(() => {});
        end.postMessage({ id: message.id } satisfies FromExporter);
        return;
      case "shutdown":
        // Shut down rather than force-flush: BatchSpanProcessor.forceFlush does not wait for an
        // export already in flight, shutdown also waits for the exporter's pending sends.
        await processor?.shutdown().catch(() => {});
        end.postMessage({ id: message.id } satisfies FromExporter);
        return;
    }
  };
}

/** True when JSON carries every number of the record's attributes as it is. */
export function jsonSafe(record: SpanRecord): boolean {
  if (!attributesJsonSafe(record.attributes)) return false;
  for (const event of record.events) if (!attributesJsonSafe(event.attributes)) return false;
  for (const link of record.links) if (!attributesJsonSafe(link.attributes)) return false;
  return true;
}

function attributesJsonSafe(attributes: Attributes | undefined): boolean {
  if (!attributes) return true;
  for (const key in attributes) {
    const value = attributes[key];
    if (typeof value === "number") {
      if (!Number.isFinite(value) || Object.is(value, -0)) return false;
    } else if (Array.isArray(value)) {
      for (const item of value) {
        // JSON writes an undefined in an array as null.
        if (item === undefined) return false;
        if (typeof item === "number" && (!Number.isFinite(item) || Object.is(item, -0))) {
          return false;
        }
      }
    }
  }
  return true;
}
