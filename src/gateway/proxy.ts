/**
 * A chat turn proxied to the upstream provider the providers file names: the client's body goes
 * upstream with only the model replaced; a non-streamed answer is passed through as the provider
 * sent it, a stream is relayed as it arrives, its bytes untouched but where the contract says.
 */
import type { UsageSource } from "../usage/record.ts";
import { localUsage } from "../usage/record.ts";
import type { ModelRoute } from "../providers/providers.ts";
import { UpstreamError, UpstreamExchange } from "./upstream.ts";
import { finishedHeaders, type Turn, upstreamFailed } from "./endings.ts";
import { relay } from "./relay.ts";
import { jsonResponse } from "../http/response.ts";
import { UpstreamPieces } from "./upstream_events.ts";

/** Answers the turn from the upstream that serves its model. */
export async function proxy(turn: Turn, route: ModelRoute): Promise<Response> {
  const { services, api, call, request, counter } = turn;
  const { provider, upstreamModel } = route;
  const timeoutMs = services.config.upstreamTimeoutMs;
  const exchange = new UpstreamExchange({
    tracer: services.tracer,
    parent: call.span,
    operation: call.operation,
    provider,
    upstreamModel,
    path: api.upstream.path,
    headers: api.upstream.headers(provider, turn.clientHeaders),
    body: api.upstream.body(request.body, upstreamModel),
    stream: request.stream,
    timeoutMs,
    clientSignal: turn.clientSignal,
    injectTraceparent: !services.config.denoFetchTracing,
  });
  let response: Response;
  try {
    response = await exchange.send();
  } catch (error) {
    return await upstreamFailed(turn, exchange, provider, error);
  }

  if (!request.stream) {
    let text: string;
    let completion;
    try {
      text = await exchange.readText(response);
      completion = api.upstream.readCompletion(text);
    } catch (error) {
      return await upstreamFailed(turn, exchange, provider, error);
    }
    exchange.end(undefined, completion.usage, completion.model);
    const usageSource: UsageSource = completion.usage ? "provider" : "estimated";
    const record = await call.finish({
      usage: completion.usage ?? localUsage(turn.promptTokens, counter.count(completion.text)),
      usageSource,
      tokenCountMethod: usageSource === "provider" ? "exact" : counter.method,
      responseModel: completion.model ?? upstreamModel,
      completion: completion.text,
    });
    return jsonResponse(text, response.status, finishedHeaders(call, record));
  }

  const type = response.headers.get("content-type") ?? "";
  if (!response.body || !/^text\/event-stream\b/i.test(type)) {
    await response.body?.cancel().catch(() => {});
    return await upstreamFailed(
      turn,
      exchange,
      provider,
      new UpstreamError(
        "protocol",
        `provider "${provider.name}" answered a stream request with ${
          JSON.stringify(type.slice(0, 100))
        }, not text/event-stream`,
      ),
    );
  }
  exchange.stopDeadline();
  const reader = api.upstream.streamReader(request.includeUsage);
  const pieces = new UpstreamPieces(
    response.body,
    reader,
    timeoutMs,
    () =>
      new UpstreamError(
        "timeout",
        `provider "${provider.name}" sent nothing for ${timeoutMs} ms (UPSTREAM_TIMEOUT_MS)`,
      ),
  );
  return await relay(turn, {
    pieces,
    usageSource: "provider",
    reader,
    leg: exchange,
    fallbackModel: upstreamModel,
    provider,
  });
}
