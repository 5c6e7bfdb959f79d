/**
 * The span export worker's entry: the SDK's batch processor and OTLP exporter, fed finished-span
 * records by the request path (span_export.ts). It runs with the process's permissions.
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { serveSpanExport } from "./span_export.ts";

serveSpanExport(self);
