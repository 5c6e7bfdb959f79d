/**
 * The span export worker: receives finished spans as compact records (span_records.ts) and
 * batches, serializes and sends them over OTLP/HTTP with the SDK's own BatchSpanProcessor and
 * exporter, so that work runs on its own thread instead of the server's event loop. Started by
 * span_export.ts, which documents the messages.
 */
/// <reference lib="deno.worker" />
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import { otlpTraceExporter } from "./otlp_exporter.ts";
import { SpanRebuilder } from "./span_records.ts";
import type { ToWorker } from "./span_export.ts";

let processor: BatchSpanProcessor | undefined;
let rebuilder: SpanRebuilder | undefined;

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (Array.isArray(message)) {
    if (!processor || !rebuilder) return;
    for (const record of message) processor.onEnd(rebuilder.rebuild(record));
  } else if (message.type === "start") {
    const { serviceName, protocol, batch } = message;
    rebuilder = new SpanRebuilder(
      defaultResource().merge(resourceFromAttributes({ "service.name": serviceName })),
    );
    processor = new BatchSpanProcessor({
      exporter: otlpTraceExporter(protocol),
      maxExportBatchSize: Math.min(batch.maxExportBatchSize, batch.maxQueueSize),
      scheduledDelayMillis: batch.scheduledDelayMs,
      maxQueueSize: batch.maxQueueSize,
    });
  } else if (message.type === "shutdown") {
    // Shutdown, not forceFlush: it also waits for an export already in flight.
    await processor?.shutdown().catch(() => {});
    self.postMessage("closed");
  }
};
