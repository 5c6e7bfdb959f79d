/**
 * The span export worker: receives finished spans as compact records (span_records.ts) and
 * batches, serializes and sends them over OTLP/HTTP with the SDK's own BatchSpanProcessor and
 * exporter, so that work runs on its own thread instead of the server's event loop. Started by
 * span_export.ts, which documents the messages.
 */
/// <reference lib="deno.worker" />
import { BatchSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import { otlpTraceExporter } from "./otlp_exporter.ts";
import { decodeRecords, SpanRebuilder } from "./span_records.ts";
import type { FromWorker, ToWorker } from "./span_export.ts";

let processor: BatchSpanProcessor | undefined;
let exporter: SpanExporter | undefined;
let rebuilder: SpanRebuilder | undefined;

function answer(message: FromWorker): void {
  self.postMessage(message);
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (typeof message === "string") {
    if (!processor || !rebuilder) return;
    for (const record of decodeRecords(message)) processor.onEnd(rebuilder.rebuild(record));
  } else if (message.type === "start") {
    const { serviceName, protocol, batch } = message;
    rebuilder = new SpanRebuilder(
      defaultResource().merge(resourceFromAttributes({ "service.name": serviceName })),
    );
    exporter = otlpTraceExporter(protocol);
    processor = new BatchSpanProcessor({
      exporter,
      maxExportBatchSize: Math.min(batch.maxExportBatchSize, batch.maxQueueSize),
      scheduledDelayMillis: batch.scheduledDelayMs,
      maxQueueSize: batch.maxQueueSize,
    });
  } else if (message.type === "flush") {
    // The processor's flush sends what it still queues but does not wait for a batch its timer
    // already sent; the exporter's flush waits for every send in flight, that one included.
    await processor?.forceFlush().catch(() => {});
    await exporter?.forceFlush?.().catch(() => {});
    answer({ flushed: message.id });
  } else if (message.type === "shutdown") {
    // Shutdown flushes the queue and then the exporter, so it waits for sends in flight too.
    await processor?.shutdown().catch(() => {});
    answer("closed");
  }
};
