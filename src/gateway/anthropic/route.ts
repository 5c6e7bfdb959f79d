/**
 * POST /v1/messages in Anthropic's Messages shape, streaming included (message_start,
 * content_block_start, content_block_delta, content_block_stop, message_delta with usage,
 * message_stop), so the official `@anthropic-ai/sdk` works with only its base URL changed. Served
 * by the simulated model, or proxied to an Anthropic-protocol upstream. Errors use Anthropic's
 * shape, `{"type":"error","error":{"type","message"}}`.
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
import { anthropicUpstream } from "./upstream.ts";

/** The route's path. */
export const MESSAGES_PATH = "/v1/messages";

/** Anthropic's error shape; `error.type` is this server's documented error type. */
export const renderAnthropicError: ErrorRenderer = (error, requestId) =>
  Response.json(anthropicErrorBody(error), {
    status: error.httpStatus,
    // The SDK reports `request-id` as the error's requestID.
    headers: { ...error.headers, "x-request-id": requestId, "request-id": requestId },
  });

// Details come after `type`, so a passed-through upstream error keeps the provider's own type;
// `param` is an OpenAI field this shape does not have.
function anthropicErrorBody(error: ApiError) {
  const { param: _param, ...details } = error.details;
  return { type: "error", error: { type: error.type, message: error.message, ...details } };
}

const block = z.object({ type: z.string(), text: z.string().optional() }).loose();
const content = z.union([z.string(), z.array(block)]);

const conversationFields = {
  model: z.string().min(1).max(256),
  messages: z.array(z.object({ role: z.enum(["user", "assistant"]), content }).loose())
    .min(1, "must hold at least one message"),
  system: content.optional(),
  tools: z.array(z.unknown()).optional(),
};

/** The conversation a Messages body holds (a token-count body holds only it). */
export const conversationSchema = z.object(conversationFields).loose();

const bodySchema = z.object({
  ...conversationFields,
  max_tokens: z.number().int().min(1).max(MAX_TOKENS_CEILING),
  stream: z.boolean().optional(),
  // The end user, for the spend ledger.
  metadata: z.object({ user_id: z.string().nullish() }).loose().nullish(),
}).loose();

// Text blocks count as their text; other blocks (tool use and results) as their JSON, images as
// nothing: a local estimate only, used when the provider reports no usage.
function contentText(value: z.infer<typeof content>): string {
  if (typeof value === "string") return value;
  return value.map((b) =>
    b.type === "text" ? b.text ?? "" : b.type === "image" ? "" : JSON.stringify(b)
  ).join("");
}

/** A conversation in the common form: its messages (the system prompt first) and tools as JSON. */
export function conversationOf(
  body: z.infer<typeof conversationSchema>,
): { messages: ChatMessage[]; toolsText: string } {
  const messages: ChatMessage[] = body.messages.map((m) => ({
    role: m.role,
    content: contentText(m.content),
  }));
  if (body.system !== undefined) {
    messages.unshift({ role: "system", content: contentText(body.system) });
  }
  return { messages, toolsText: body.tools ? JSON.stringify(body.tools) : "" };
}

function parse(raw: unknown): ChatRequest {
  const parsed = bodySchema.safeParse(raw);
  if (!parsed.success) throw new ApiError("invalid_request", describeIssue(parsed.error));
  const body = parsed.data;
  return {
    body: raw as Record<string, unknown>,
    model: body.model,
    ...conversationOf(body),
    maxTokens: body.max_tokens,
    choices: 1,
    stream: body.stream === true,
    includeUsage: true,
    endUser: body.metadata?.user_id ?? undefined,
  };
}

function anthropicUsage(usage: TokenUsage) {
  return {
    input_tokens: usage.inputTokens - usage.cachedInputTokens - usage.cacheWriteTokens,
    cache_creation_input_tokens: usage.cacheWriteTokens,
    cache_read_input_tokens: usage.cachedInputTokens,
    output_tokens: usage.outputTokens,
  };
}

const stopReason = (finish: "stop" | "length") => finish === "length" ? "max_tokens" : "end_turn";

function event(type: string, data: Record<string, unknown>): string {
  return sseFrame(JSON.stringify({ type, ...data }), type);
}

const simulated: SimulatedShape = {
  completion: (request, id, text, finishReason, usage) => ({
    id: `msg_${id}`,
    type: "message",
    role: "assistant",
    model: request.model,
    content: [{ type: "text", text }],
    stop_reason: stopReason(finishReason),
    stop_sequence: null,
    usage: anthropicUsage(usage),
  }),
  stream: (request, id) => ({
    start: (inputTokens) => [
      event("message_start", {
        message: {
          id: `msg_${id}`,
          type: "message",
          role: "assistant",
          model: request.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: {
            input_tokens: inputTokens,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
            output_tokens: 0,
          },
        },
      }),
      event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
    ],
    text: (text) => event("content_block_delta", { index: 0, delta: { type: "text_delta", text } }),
    end: (_text, finishReason, usage) => [
      event("content_block_stop", { index: 0 }),
      event("message_delta", {
        delta: { stop_reason: stopReason(finishReason), stop_sequence: null },
        usage: { output_tokens: usage.outputTokens },
      }),
      event("message_stop", {}),
    ],
  }),
};

/** The Anthropic Messages API. */
export const anthropicMessagesApi: ChatApi = {
  upstream: anthropicUpstream,
  renderError: renderAnthropicError,
  simulated,
  parse,
  // The SDK raises an APIError for an `error` event.
  streamErrorFrame: (error) => sseFrame(JSON.stringify(anthropicErrorBody(error)), "error"),
};

/** Registers POST /v1/messages. */
export function registerAnthropicRoutes(app: Hono, services: Services): void {
  app.post(MESSAGES_PATH, chatHandler(services, anthropicMessagesApi));
}
