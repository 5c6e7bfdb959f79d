/**
 * Errors as values at the HTTP boundary. Every error body is `{"error":{"type","message",...}}`
 * with a documented `type` (the README's error table); nothing becomes a 500 with a stack trace.
 */
import type { z } from "zod";
import type { RequestStatus } from "../telemetry/names.ts";

/** Documented error types with their HTTP status and the request status they count as. */
export const ERROR_TYPES = {
  invalid_json: { http: 400, status: "bad_request" },
  invalid_request: { http: 400, status: "bad_request" },
  unsupported_media_type: { http: 415, status: "bad_request" },
  payload_too_large: { http: 413, status: "bad_request" },
  request_timeout: { http: 408, status: "bad_request" },
  unknown_model: { http: 400, status: "unknown_model" },
  protocol_mismatch: { http: 400, status: "bad_request" },
  unauthorized: { http: 401, status: "unauthorized" },
  forbidden: { http: 403, status: "unauthorized" },
  budget_exceeded: { http: 429, status: "budget_exceeded" },
  budget_unavailable: { http: 503, status: "overloaded" },
  rate_limited: { http: 429, status: "rate_limited" },
  overloaded: { http: 503, status: "overloaded" },
  upstream_error: { http: 502, status: "upstream_error" },
  upstream_timeout: { http: 504, status: "timeout" },
  not_found: { http: 404, status: "bad_request" },
  method_not_allowed: { http: 405, status: "bad_request" },
  internal_error: { http: 500, status: "upstream_error" },
} as const satisfies Record<string, { http: number; status: RequestStatus }>;

/** One of the documented error types. */
export type ErrorType = keyof typeof ERROR_TYPES;

/** An error a handler returns to the client. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly type: ErrorType,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
    /** An upstream's own status to pass through (a 4xx from the provider). */
    readonly httpStatus: number = ERROR_TYPES[type].http,
  ) {
    super(message);
  }

  /** The request status this error counts as in `inference_requests_total`. */
  get requestStatus(): RequestStatus {
    return ERROR_TYPES[this.type].status;
  }

  /** The body in this server's own shape. */
  toBody(): { error: Record<string, unknown> } {
    return { error: { type: this.type, message: this.message, ...this.details } };
  }
}

/** Renders an error in a route's API shape (each protocol's SDK parses its own). */
export type ErrorRenderer = (error: ApiError, requestId: string) => Response;

/** This server's own error shape: `{"error":{"type","message",...}}`. */
export const renderNativeError: ErrorRenderer = (error, requestId) =>
  Response.json(error.toBody(), {
    status: error.httpStatus,
    headers: { ...error.headers, "x-request-id": requestId },
  });

/** Describes the first validation issue of a request body as `field: message`. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue.path.join(".") || "body"}: ${issue.message}`;
}
