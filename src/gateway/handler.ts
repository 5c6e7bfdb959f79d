/**
 * The handler every chat route shares (Chat Completions, Responses and Messages alike): admit the
 * request exactly as /v1/inference is admitted (tenant, price, limits, budget reservation of the
 * worst case), then serve it from the simulated model or proxy it to the upstream the providers
 * file names. Whatever happens becomes one usage record; a stream's record is written before its
 * last frame, so a client that has read the whole stream sees its cost in /metrics.
 */
import type { Context } from "hono";
import { ApiError } from "../http/errors.ts";
import { readJsonBody } from "../http/request.ts";
import type { Services } from "../services.ts";
import type { ModelPrice } from "../pricing/pricing.ts";
import { countChatTokens, type TokenCounter } from "../tokens/count.ts";
import type { ModelRoute } from "../providers/providers.ts";
import { type ChatApi, type ChatRequest, SIMULATED_DEFAULT_MAX_TOKENS } from "./contract.ts";
import { admit, handleInference, modelRoute, requestCaller } from "./admission.ts";
import type { Turn } from "./endings.ts";
import { proxy } from "./proxy.ts";
import { simulate } from "./simulate.ts";

/** The handler of one chat route speaking `api`. */
export function chatHandler(services: Services, api: ChatApi): (c: Context) => Promise<Response> {
  return (c) =>
    handleInference(c, services, "chat", api.renderError, async (call) => {
      const headers = c.req.raw.headers;
      const { tenant, keyName } = requestCaller(services, headers);
      call.tenant = tenant;
      call.keyName = keyName;
      const raw = await readJsonBody(
        c.req.raw,
        services.config.maxBodyBytes,
        services.config.bodyTimeoutMs,
      );
      const request = api.parse(raw);
      call.requestModel = request.model;
      call.endUser = request.endUser;
      call.maxTokens = request.maxTokens;
      refuseLongPrompt(services, request.messages.map((m) => m.content), "messages");
      let route: ModelRoute | undefined;
      const { counter, inputTokens } = await admit(services, call, {
        tenant,
        model: request.model,
        maxTokens: request.maxTokens,
        serviceTier: request.serviceTier,
        checkServing: () => route = routeOf(services, api, request),
        countInput: (counter) => countPrompt(counter, request),
        reservedOutput: (price) => outputCap(request, route, price) * request.choices,
      });
      if (call.keepsContent) call.prompt = JSON.stringify(request.messages);
      const turn: Turn = {
        services,
        api,
        call,
        request,
        counter,
        promptTokens: inputTokens,
        maxOutput: outputCap(request, route, call.price),
        clientSignal: c.req.raw.signal,
        clientHeaders: headers,
      };
      if (route) {
        call.provider = route.provider.name;
        return await proxy(turn, route);
      }
      call.provider = services.backend.provider;
      return await simulate(turn);
    });
}

/** Refuses texts longer together than MAX_PROMPT_CHARS (400 `invalid_request` naming `param`). */
export function refuseLongPrompt(
  services: Services,
  texts: readonly string[],
  param: string,
): void {
  const chars = texts.reduce((n, text) => n + text.length, 0);
  if (chars > services.config.maxPromptChars) {
    throw new ApiError(
      "invalid_request",
      `${param}: must be at most ${services.config.maxPromptChars} characters of text (MAX_PROMPT_CHARS)`,
      { param },
    );
  }
}

/** Input tokens of a chat request with the chat format's per-message overhead, tools included. */
export function countPrompt(
  counter: TokenCounter,
  request: Pick<ChatRequest, "messages" | "toolsText">,
): number {
  const tools = request.toolsText ? counter.count(request.toolsText) : 0;
  return countChatTokens(counter, request.messages) + tools;
}

/** Output tokens one completion may take: the client's max_tokens, else the model's or the default. */
function outputCap(
  request: ChatRequest,
  route: ModelRoute | undefined,
  price: ModelPrice | undefined,
): number {
  return request.maxTokens ??
    (route ? price?.maxOutputTokens ?? 0 : SIMULATED_DEFAULT_MAX_TOKENS);
}

/** Where the model is served; throws the documented 400s when it cannot be served here. */
function routeOf(services: Services, api: ChatApi, request: ChatRequest): ModelRoute | undefined {
  const route = modelRoute(services, request.model, api.upstream.protocol);
  if (!route && request.choices !== 1) {
    throw new ApiError("invalid_request", "n: the simulated model answers one choice", {
      param: "n",
    });
  }
  return route;
}
