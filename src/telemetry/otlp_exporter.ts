/**
 * The OTLP/HTTP span exporter, shared by the event loop's pipeline (otel.ts) and the export worker
 * (span_worker.ts), which must not import each other.
 */
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
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
import type { OTLP_PROTOCOLS } from "../config.ts";

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
