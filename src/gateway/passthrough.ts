/**
 * An unbilled call passed through to a provider as it is (a stored response fetched or deleted, a
 * prompt's tokens counted): the provider's key instead of the client's, UPSTREAM_TIMEOUT_MS, the
 * upstream CLIENT span, and the provider's answer returned with its status. A failure is answered
 * like a billed call's (a 4xx passed on, 502, 504) but moves no metric: nothing was billed, so
 * nothing is recorded but a log line.
 */
import type { Services } from "../services.ts";
import type { Provider } from "../providers/providers.ts";
import { ClientGone, UpstreamError, UpstreamExchange, type UpstreamProtocol } from "./upstream.ts";
import { upstreamApiError } from "./endings.ts";

/** One pass-through call. */
export interface PassThrough {
  readonly provider: Provider;
  /** `gen_ai.operation.name` of the upstream span. */
  readonly operation: string;
  /** What the call is about (a model, a response id), for the span's name. */
  readonly subject: string;
  readonly method: "POST" | "GET" | "DELETE";
  /** Path and query after the provider's base URL. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly requestId: string;
  readonly clientSignal: AbortSignal;
  /** Reads the provider's error bodies. */
  readonly protocol: Pick<UpstreamProtocol, "errorFields">;
}

/** Sends `call` and answers with the provider's status and body (499 if the client left). */
export async function passThrough(services: Services, call: PassThrough): Promise<Response> {
  const exchange = new UpstreamExchange({
    tracer: services.tracer,
    operation: call.operation,
    provider: call.provider,
    upstreamModel: call.subject,
    path: call.path,
    method: call.method,
    headers: call.headers,
    body: call.body,
    stream: false,
    timeoutMs: services.config.upstreamTimeoutMs,
    clientSignal: call.clientSignal,
    injectTraceparent: !services.config.denoFetchTracing,
  });
  let response: Response;
  let text: string;
  try {
    response = await exchange.send();
    text = await exchange.readText(response);
  } catch (error) {
    const failure = exchange.failure(error, "protocol");
    if (failure instanceof ClientGone) {
      exchange.end("client_closed");
      return new Response(null, { status: 499 });
    }
    if (!(failure instanceof UpstreamError)) throw failure;
    exchange.end(failure.kind);
    services.logger.warn("pass-through call failed", {
      request_id: call.requestId,
      provider: call.provider.name,
      operation: call.operation,
      upstream_error_kind: failure.kind,
    });
    throw upstreamApiError(failure, call.protocol, call.provider);
  }
  exchange.end();
  return new Response(text, {
    status: response.status,
    headers: { "content-type": response.headers.get("content-type") ?? "application/json" },
  });
}
