/**
 * POST /v1/chat/completions in OpenAI's Chat Completions shape, streaming included, so the
 * official `openai` SDK works with only its base URL changed. Served by the simulated model, or
 * proxied to an OpenAI-compatible upstream (OpenAI, vLLM, Ollama, OpenRouter, Groq, ...). Errors
 * use OpenAI's shape, `{"error":{"message","type","param","code"}}`, so the SDK raises its usual
 * exceptions.
 */
import type { Hono } from "hono";
import { z } from "zod";
import { ApiError, describeIssue, type ErrorRenderer } from "../../http/errors.ts";
import type { Services } from "../../services.ts";
import type { ChatMessage } from "../../tokens/count.ts";
import type { TokenUsage } from "../../pricing/pricing.ts";
import { sseFrame } from "../sse.ts";
import {
  type ChatApi,
  type ChatRequest,
  MAX_TOKENS_CEILING,
  type SimulatedShape,
} from "../contract.ts";
import { chatHandler } from "../handler.ts";
import { openAiUpstream } from "./upstream.ts";

/** The route's path. */
export const CHAT_COMPLETIONS_PATH = "/v1/chat/completions";

/** OpenAI's error shape; `type` and `code` are this server's documented error type. */
export const renderOpenAiError: ErrorRenderer = (error, requestId) =>
  Response.json(openAiErrorBody(error), {
    status: error.httpStatus,
    headers: { ...error.headers, "x-request-id": requestId },
  });

// An error's details follow the four OpenAI fields, so a passed-through upstream error keeps the
// provider's own type, code and param.
function openAiErrorBody(error: ApiError) {
  return {
    error: {
      message: error.message,
      type: error.type,
      param: null,
      code: error.type,
      ...error.details,
    },
  };
}

const contentPart = z.object({ type: z.string(), text: z.string().optional() }).loose();

const messageSchema = z.object({
  role: z.string().min(1),
  content: z.union([z.string(), z.array(contentPart)]).nullish(),
  name: z.string().optional(),
  tool_calls: z.array(
    z.object({
      function: z.object({ name: z.string().optional(), arguments: z.string().optional() })
        .loose().optional(),
    }).loose(),
  ).optional(),
}).loose();

const tokens = z.number().int().min(1).max(MAX_TOKENS_CEILING);

const bodySchema = z.object({
  model: z.string().min(1).max(256),
  messages: z.array(messageSchema).min(1, "must hold at least one message"),
  max_tokens: tokens.nullish(),
  max_completion_tokens: tokens.nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).loose().nullish(),
  tools: z.array(z.unknown()).optional(),
  service_tier: z.string().max(64).nullish(),
  // The end user, for the spend ledger: `safety_identifier` replaces the older `user`.
  safety_identifier: z.string().nullish(),
  user: z.string().nullish(),
}).loose();

/** The text of a message: its content (text parts joined) and any tool-call arguments. */
function messageText(message: z.infer<typeof messageSchema>): ChatMessage {
  let content = typeof message.content === "string"
    ? message.content
    : (message.content ?? []).map((part) => part.text ?? "").join("");
  for (const call of message.tool_calls ?? []) {
    content += (call.function?.name ?? "") + (call.function?.arguments ?? "");
  }
  return message.name === undefined
    ? { role: message.role, content }
    : { role: message.role, content, name: message.name };
}

function parse(raw: unknown): ChatRequest {
  const parsed = bodySchema.safeParse(raw);
  if (!parsed.success) {
    throw new ApiError("invalid_request", describeIssue(parsed.error), {
      param: parsed.error.issues[0].path.join(".") || null,
    });
  }
  const body = parsed.data;
  return {
    body: raw as Record<string, unknown>,
    model: body.model,
    messages: body.messages.map(messageText),
    toolsText: body.tools ? JSON.stringify(body.tools) : "",
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
    choices: body.n ?? 1,
    stream: body.stream === true,
    includeUsage: body.stream_options?.include_usage === true,
    serviceTier: body.service_tier ?? undefined,
    endUser: body.safety_identifier ?? body.user ?? undefined,
  };
}

function openAiUsage(usage: TokenUsage) {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
}

const created = () => Math.floor(Date.now() / 1000);

// Chunks follow OpenAI's stream: a role chunk, content chunks, a finish chunk, then (only when
// asked) a usage chunk with no choices; with include_usage every other chunk has `usage: null`.
function chunk(request: ChatRequest, id: string, choices: unknown[], usage?: unknown): string {
  const body: Record<string, unknown> = {
    id: `chatcmpl-${id}`,
    object: "chat.completion.chunk",
    created: created(),
    model: request.model,
    choices,
  };
  if (request.includeUsage) body.usage = usage ?? null;
  return sseFrame(JSON.stringify(body));
}

const simulated: SimulatedShape = {
  completion: (request, id, text, finishReason, usage) => ({
    id: `chatcmpl-${id}`,
    object: "chat.completion",
    created: created(),
    model: request.model,
    choices: [{
      index: 0,
      message: { role: "assistant", content: text, refusal: null },
      logprobs: null,
      finish_reason: finishReason,
    }],
    usage: openAiUsage(usage),
  }),
  stream: (request, id) => ({
    start: () => [
      chunk(request, id, [{
        index: 0,
        delta: { role: "assistant", content: "" },
        logprobs: null,
        finish_reason: null,
      }]),
    ],
    text: (text) =>
      chunk(request, id, [{
        index: 0,
        delta: { content: text },
        logprobs: null,
        finish_reason: null,
      }]),
    end: (_text, finishReason, usage) => [
      chunk(request, id, [{ index: 0, delta: {}, logprobs: null, finish_reason: finishReason }]),
      ...(request.includeUsage ? [chunk(request, id, [], openAiUsage(usage))] : []),
      sseFrame("[DONE]"),
    ],
  }),
};

/** The OpenAI Chat Completions API. */
export const openAiChatApi: ChatApi = {
  upstream: openAiUpstream,
  renderError: renderOpenAiError,
  simulated,
  parse,
  // The SDK raises an APIError for a chunk carrying `error`.
  streamErrorFrame: (error) => sseFrame(JSON.stringify(openAiErrorBody(error))),
};

/** Registers POST /v1/chat/completions. */
export function registerOpenAiRoutes(app: Hono, services: Services): void {
  app.post(CHAT_COMPLETIONS_PATH, chatHandler(services, openAiChatApi));
}
