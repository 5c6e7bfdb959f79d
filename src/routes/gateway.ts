/**
 * What the OpenAI- and Anthropic-shaped routes share: admit a chat request exactly as
 * /v1/inference does (tenant, price, budget reservation of the worst case), serve it from the
 * simulated model or proxy it to the upstream the providers file names, and turn whatever happens
 * into one usage record. Streams are relayed event by event as they arrive; the record is written
 * before the stream's last frame, so a client that has read the whole stream sees its cost in
 * /metrics.
 */
import type { Context } from "hono";
import { ApiError } from "../http/errors.ts";
import { readJsonBody } from "../http/request.ts";
import {
  authenticate,
  budgetHeaders,
  checkRateLimit,
  type ErrorRenderer,
  handleInference,
} from "../http/handle.ts";
import type { Services } from "../services.ts";
import type { InferenceCall } from "../usage/call.ts";
import type { UsageRecord, UsageSource } from "../usage/record.ts";
import { counterFor } from "../usage/counting.ts";
import { countChatTokens, type TokenCounter } from "../tokens/count.ts";
import type { TokenUsage } from "../pricing/pricing.ts";
import { formatUsd } from "../pricing/money.ts";
import { ATTR } from "../telemetry/names.ts";
import type { ChatMessage } from "../backends/types.ts";
import type { ModelRoute } from "../backends/providers.ts";
import { readSseEvents, SseIdleTimeout } from "../backends/sse.ts";
import {
  ClientGone,
  type StreamStep,
  UpstreamError,
  UpstreamExchange,
  type UpstreamProtocol,
} from "../backends/upstream.ts";
import { clientClosed, localUsage, recordContent, type Turn, upstreamFailed } from "./chat_turn.ts";
import { relay } from "./stream_relay.ts";

/** Largest max_tokens accepted before the model's own limit is checked. */
export const MAX_TOKENS_CEILING = 1_000_000;
/** Output cap of the simulated model when the client sets none (as /v1/inference's default). */
export const SIMULATED_DEFAULT_MAX_TOKENS = 512;

/** A chat request as the gateway needs it, whichever API shape it came in. */
export interface ChatRequest {
  /** The validated body as the client sent it; proxied upstream with only the model replaced. */
  readonly body: Readonly<Record<string, unknown>>;
  readonly model: string;
  /** The text of the conversation, for local counts and the simulated model. */
  readonly messages: readonly ChatMessage[];
  /** Tool definitions as JSON text, counted into the prompt estimate ("" when none). */
  readonly toolsText: string;
  readonly maxTokens?: number;
  /** Completions asked for (OpenAI's `n`). */
  readonly choices: number;
  readonly stream: boolean;
  /** The client asked for usage in the stream (OpenAI's `stream_options.include_usage`). */
  readonly includeUsage: boolean;
}

/** The simulated model's answer in one API's shape. */
export interface SimulatedShape {
  completion(
    request: ChatRequest,
    id: string,
    text: string,
    finishReason: "stop" | "length",
    usage: TokenUsage,
  ): unknown;
  /** Frames before the first text. */
  streamStart(request: ChatRequest, id: string, inputTokens: number): string[];
  streamText(request: ChatRequest, id: string, text: string): string;
  /** Frames after the last text; the last one is the protocol's end marker. */
  streamEnd(
    request: ChatRequest,
    id: string,
    finishReason: "stop" | "length",
    usage: TokenUsage,
  ): string[];
}

/** One client-facing API: its request parsing, error shape, and simulated answers. */
export interface ChatApi {
  readonly upstream: UpstreamProtocol;
  readonly renderError: ErrorRenderer;
  readonly simulated: SimulatedShape;
  /** Validates a body; throws ApiError `invalid_request` naming the field. */
  parse(raw: unknown): ChatRequest;
  /** An error event in the API's stream shape, sent before closing a broken stream. */
  streamErrorFrame(error: ApiError): string;
}

/** The handler of one chat route. */
export function chatHandler(services: Services, api: ChatApi): (c: Context) => Promise<Response> {
  return (c) =>
    handleInference(c, services, "chat", api.renderError, async (call) => {
      const headers = c.req.raw.headers;
      const principal = authenticate(services, headers);
      // Demo mode: these bodies have no tenant field, so the tenant is the x-tenant-id header.
      call.tenant = principal?.tenant ??
        services.config.tenants.byRequestedId(headers.get("x-tenant-id") ?? undefined);
      const raw = await readJsonBody(
        c.req.raw,
        services.config.maxBodyBytes,
        services.config.bodyTimeoutMs,
      );
      const request = api.parse(raw);
      call.requestModel = request.model;
      call.maxTokens = request.maxTokens;
      const promptChars = request.messages.reduce((n, m) => n + m.content.length, 0);
      if (promptChars > services.config.maxPromptChars) {
        throw new ApiError(
          "invalid_request",
          `messages: must be at most ${services.config.maxPromptChars} characters of text (MAX_PROMPT_CHARS)`,
          { param: "messages" },
        );
      }
      const route = admitModel(services, api, call, request);
      checkRateLimit(services, call.tenant);

      const counter = counterFor(call.price);
      const promptTokens = countPrompt(counter, request);
      const maxOutput = request.maxTokens ??
        (route ? call.price?.maxOutputTokens ?? 0 : SIMULATED_DEFAULT_MAX_TOKENS);
      await call.reserve(promptTokens, maxOutput * request.choices);
      const turn: Turn = {
        services,
        api,
        call,
        request,
        counter,
        promptTokens,
        maxOutput,
        clientSignal: c.req.raw.signal,
        clientHeaders: headers,
      };
      if (services.config.traceContent) {
        call.span.setAttribute(ATTR.prompt, JSON.stringify(request.messages));
      }
      if (route) {
        call.provider = route.provider.name;
        return await proxy(turn, route);
      }
      call.provider = services.backend.provider;
      return await simulate(turn);
    });
}

/** Input tokens of a chat request with the chat format's per-message overhead, tools included. */
function countPrompt(counter: TokenCounter, request: ChatRequest): number {
  const tools = request.toolsText ? counter.count(request.toolsText) : 0;
  return countChatTokens(counter, request.messages) + tools;
}

/** Prices the model and finds where it is served; throws the documented 400s. */
function admitModel(
  services: Services,
  api: ChatApi,
  call: InferenceCall,
  request: ChatRequest,
): ModelRoute | undefined {
  const { prices, config } = services;
  const shown = JSON.stringify(request.model.slice(0, 100));
  call.price = prices.resolve(request.model);
  if (!call.price && config.unpricedPolicy === "reject") {
    throw new ApiError(
      "unknown_model",
      `model ${shown} has no price; add it to the price file (PRICING_FILE) or set UNPRICED_POLICY=allow`,
      { param: "model", models: [...prices.models.keys()] },
    );
  }
  const route = config.providers.route(request.model);
  if (!route && config.providers.unroutedModels === "reject") {
    throw new ApiError(
      "unknown_model",
      `model ${shown} is not served by any provider in the providers file (PROVIDERS_FILE)`,
      { param: "model" },
    );
  }
  if (route && route.provider.protocol !== api.upstream.protocol) {
    const other = route.provider.protocol === "anthropic"
      ? "the Anthropic Messages API: POST /v1/messages"
      : "the OpenAI Chat Completions API: POST /v1/chat/completions";
    throw new ApiError(
      "protocol_mismatch",
      `model ${shown} is served by provider "${route.provider.name}" over ${other}; this gateway does not translate between the OpenAI and Anthropic APIs`,
      { param: "model" },
    );
  }
  if (
    call.price && request.maxTokens !== undefined &&
    request.maxTokens > call.price.maxOutputTokens
  ) {
    throw new ApiError(
      "invalid_request",
      `max_tokens: must be at most ${call.price.maxOutputTokens} for ${call.price.id}`,
      { param: "max_tokens" },
    );
  }
  if (!route && request.choices !== 1) {
    throw new ApiError("invalid_request", "n: the simulated model answers one choice", {
      param: "n",
    });
  }
  return route;
}

/** Response headers of a finished, non-streamed call: remaining budget and the exact cost. */
function finishedHeaders(call: InferenceCall, record: UsageRecord): Record<string, string> {
  const headers = budgetHeaders(call);
  if (record.costPico !== null) headers["x-inference-cost-usd"] = formatUsd(record.costPico);
  return headers;
}

// ---------------------------------------------------------------------------------------------
// The simulated model

async function simulate(turn: Turn): Promise<Response> {
  const { services, api, call, request, counter, promptTokens } = turn;
  const controller = new AbortController();
  const signal = AbortSignal.any([turn.clientSignal, controller.signal]);
  const generation = {
    model: request.model,
    messages: request.messages,
    maxTokens: turn.maxOutput,
  };
  const id = crypto.randomUUID().replaceAll("-", "");
  const responseModel = call.price?.id ?? request.model;

  if (!request.stream) {
    let result;
    try {
      result = await services.backend.generate({ ...generation, signal });
    } catch (error) {
      if (!signal.aborted) throw error;
      return await clientClosed(turn);
    }
    const usage = localUsage(promptTokens, counter.count(result.text));
    recordContent(turn, result.text);
    const record = await call.finish({
      usage,
      usageSource: "estimated",
      tokenCountMethod: counter.method,
      responseModel,
    });
    return Response.json(
      api.simulated.completion(request, id, result.text, result.finishReason, usage),
      { headers: finishedHeaders(call, record) },
    );
  }

  let usage: TokenUsage | undefined;
  let finished = false;
  const shape = api.simulated;
  async function* steps(): AsyncGenerator<StreamStep> {
    for (const frame of shape.streamStart(request, id, promptTokens)) yield { frame, text: "" };
    let text = "";
    for await (const event of services.backend.stream({ ...generation, signal })) {
      if (event.kind === "text") {
        text += event.text;
        yield { frame: shape.streamText(request, id, event.text), text: event.text };
        continue;
      }
      usage = localUsage(promptTokens, counter.count(text));
      finished = true;
      const frames = shape.streamEnd(request, id, event.finishReason, usage);
      for (let i = 0; i < frames.length; i++) {
        yield { frame: frames[i], text: "", final: i === frames.length - 1 };
      }
    }
  }
  return await relay(turn, {
    steps: steps(),
    usageSource: "estimated",
    reader: {
      usage: () => usage,
      inputUsage: () => undefined,
      finished: () => finished,
      model: () => undefined,
    },
    leg: {
      failure: (error) =>
        signal.aborted ? new ClientGone("client closed the request") : error as Error,
      end: () => {},
      abort: () => controller.abort(),
    },
    fallbackModel: responseModel,
  });
}

// ---------------------------------------------------------------------------------------------
// Upstream providers

async function proxy(turn: Turn, route: ModelRoute): Promise<Response> {
  const { services, api, call, request, counter } = turn;
  const { provider, upstreamModel } = route;
  const timeoutMs = services.config.upstreamTimeoutMs;
  const exchange = new UpstreamExchange({
    tracer: services.tracer,
    parent: call.span,
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
    recordContent(turn, completion.text);
    const usageSource: UsageSource = completion.usage ? "provider" : "estimated";
    const record = await call.finish({
      usage: completion.usage ?? localUsage(turn.promptTokens, counter.count(completion.text)),
      usageSource,
      tokenCountMethod: usageSource === "provider" ? "exact" : counter.method,
      responseModel: completion.model ?? upstreamModel,
    });
    return new Response(text, {
      status: response.status,
      headers: { "content-type": "application/json", ...finishedHeaders(call, record) },
    });
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
  const body = response.body;
  async function* steps(): AsyncGenerator<StreamStep> {
    try {
      for await (const event of readSseEvents(body, timeoutMs)) yield reader.step(event);
    } catch (error) {
      if (error instanceof SseIdleTimeout) {
        throw new UpstreamError(
          "timeout",
          `provider "${provider.name}" sent nothing for ${timeoutMs} ms (UPSTREAM_TIMEOUT_MS)`,
        );
      }
      throw error;
    }
  }
  return await relay(turn, {
    steps: steps(),
    usageSource: "provider",
    reader,
    leg: exchange,
    fallbackModel: upstreamModel,
    provider,
  });
}
