/**
 * POST /v1/responses in OpenAI's Responses shape, streaming included (`response.created` …
 * `response.output_text.delta` … `response.completed`), so `client.responses.create` of the
 * official `openai` SDK and the Vercel AI SDK's default OpenAI provider work with only their base
 * URL changed. Served by the simulated model, or proxied to an `openai`-protocol provider; billed
 * like a chat completion (`gen_ai.operation.name` = `chat`). `background: true` is refused: such a
 * response returns before any usage exists, so it could not be billed. Errors use OpenAI's shape.
 */
import type { Hono } from "hono";
import { z } from "zod";
import { ApiError, describeIssue } from "../../http/errors.ts";
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
import { renderOpenAiError } from "./route.ts";
import { responsesUpstream } from "./responses_upstream.ts";
import { registerStoredResponsesRoutes } from "./responses_stored.ts";

/** The route's path. */
export const RESPONSES_PATH = "/v1/responses";

const part = z.object({ type: z.string(), text: z.string().optional() }).loose();

// An input item: a message (its role and text), or another item (a function call, its output,
// reasoning, an item reference), kept as it is and counted by its text fields only.
const itemSchema = z.object({
  type: z.string().optional(),
  role: z.string().optional(),
  content: z.union([z.string(), z.array(part)]).nullish(),
  name: z.string().optional(),
  arguments: z.string().optional(),
  output: z.unknown().optional(),
}).loose();

const bodySchema = z.object({
  model: z.string().min(1).max(256),
  input: z.union([z.string(), z.array(itemSchema)]),
  instructions: z.string().nullish(),
  max_output_tokens: z.number().int().min(1).max(MAX_TOKENS_CEILING).nullish(),
  stream: z.boolean().nullish(),
  background: z.boolean().nullish(),
  tools: z.array(z.unknown()).optional(),
  service_tier: z.string().max(64).nullish(),
  // The end user, for the spend ledger: `safety_identifier` replaces the older `user`.
  safety_identifier: z.string().nullish(),
  user: z.string().nullish(),
}).loose();

type Body = z.infer<typeof bodySchema>;

/** The text of one input item for local counts: a message's text, a call's name and arguments. */
function itemMessage(item: z.infer<typeof itemSchema>): ChatMessage {
  const content = typeof item.content === "string"
    ? item.content
    : (item.content ?? []).map((p) => p.text ?? "").join("");
  const output = typeof item.output === "string" ? item.output : "";
  return {
    role: item.role ?? item.type ?? "user",
    content: content + (item.name ?? "") + (item.arguments ?? "") + output,
  };
}

function messagesOf(body: Body): ChatMessage[] {
  const messages: ChatMessage[] = typeof body.input === "string"
    ? [{ role: "user", content: body.input }]
    : body.input.map(itemMessage);
  if (body.instructions) messages.unshift({ role: "system", content: body.instructions });
  return messages;
}

function parse(raw: unknown): ChatRequest {
  const parsed = bodySchema.safeParse(raw);
  if (!parsed.success) {
    throw new ApiError("invalid_request", describeIssue(parsed.error), {
      param: parsed.error.issues[0].path.join(".") || null,
    });
  }
  const body = parsed.data;
  if (body.background === true) {
    throw new ApiError(
      "invalid_request",
      "background: background responses are not supported here; they return before any usage exists, so they could not be billed. Send the request without background (stream it to keep the connection busy)",
      { param: "background" },
    );
  }
  return {
    body: raw as Record<string, unknown>,
    model: body.model,
    messages: messagesOf(body),
    toolsText: body.tools ? JSON.stringify(body.tools) : "",
    maxTokens: body.max_output_tokens ?? undefined,
    choices: 1,
    stream: body.stream === true,
    // Usage always comes in the terminal event; there is nothing to ask for.
    includeUsage: true,
    serviceTier: body.service_tier ?? undefined,
    endUser: body.safety_identifier ?? body.user ?? undefined,
  };
}

function responsesUsageBody(usage: TokenUsage) {
  return {
    input_tokens: usage.inputTokens,
    input_tokens_details: { cached_tokens: usage.cachedInputTokens },
    output_tokens: usage.outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
}

function outputText(text: string) {
  return { type: "output_text", text, annotations: [], logprobs: [] };
}

function message(id: string, status: string, content: unknown[]) {
  return { id: `msg_${id}`, type: "message", status, role: "assistant", content };
}

/** A Response object of the simulated model: in progress (no output yet) or finished. */
function response(
  request: ChatRequest,
  id: string,
  created: number,
  end?: { text: string; finishReason: "stop" | "length"; usage: TokenUsage },
) {
  const body = request.body;
  const status = !end ? "in_progress" : end.finishReason === "length" ? "incomplete" : "completed";
  return {
    id: `resp_${id}`,
    object: "response",
    created_at: created,
    status,
    background: false,
    error: null,
    incomplete_details: status === "incomplete" ? { reason: "max_output_tokens" } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: request.maxTokens ?? null,
    model: request.model,
    output: end ? [message(id, status, [outputText(end.text)])] : [],
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    service_tier: "default",
    store: false,
    temperature: body.temperature ?? 1,
    text: body.text ?? { format: { type: "text" } },
    tool_choice: body.tool_choice ?? "auto",
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    truncation: body.truncation ?? "disabled",
    usage: end ? responsesUsageBody(end.usage) : null,
    metadata: body.metadata ?? {},
  };
}

const seconds = () => Math.floor(Date.now() / 1000);

const simulated: SimulatedShape = {
  completion: (request, id, text, finishReason, usage) =>
    response(request, id, seconds(), { text, finishReason, usage }),
  stream: (request, id) => {
    const created = seconds();
    const itemId = `msg_${id}`;
    let sequence = 0;
    // Every event names itself twice, in `event:` and in `type`, as OpenAI's stream does.
    const event = (type: string, data: Record<string, unknown>) =>
      sseFrame(JSON.stringify({ type, sequence_number: sequence++, ...data }), type);
    const at = { item_id: itemId, output_index: 0, content_index: 0 };
    return {
      start: () => [
        event("response.created", { response: response(request, id, created) }),
        event("response.in_progress", { response: response(request, id, created) }),
        event("response.output_item.added", {
          output_index: 0,
          item: message(id, "in_progress", []),
        }),
        event("response.content_part.added", { ...at, part: outputText("") }),
      ],
      text: (delta) => event("response.output_text.delta", { ...at, delta, logprobs: [] }),
      end: (text, finishReason, usage) => {
        const done = response(request, id, created, { text, finishReason, usage });
        return [
          event("response.output_text.done", { ...at, text, logprobs: [] }),
          event("response.content_part.done", { ...at, part: outputText(text) }),
          event("response.output_item.done", { output_index: 0, item: done.output[0] }),
          event(`response.${done.status}`, { response: done }),
        ];
      },
    };
  },
};

/** The OpenAI Responses API. */
export const openAiResponsesApi: ChatApi = {
  upstream: responsesUpstream,
  renderError: renderOpenAiError,
  simulated,
  parse,
  // OpenAI's own error event: the `openai` SDK raises an APIError for `event: error`, and the
  // Vercel AI SDK reads `type`, `code`, `message` and `sequence_number`. The event's number is 0:
  // an error frame is written without the stream's count.
  streamErrorFrame: (error) =>
    sseFrame(
      JSON.stringify({
        type: "error",
        sequence_number: 0,
        code: error.type,
        message: error.message,
        param: null,
      }),
      "error",
    ),
};

/** Registers POST /v1/responses, and GET and DELETE /v1/responses/{id}. */
export function registerResponsesRoutes(app: Hono, services: Services): void {
  app.post(RESPONSES_PATH, chatHandler(services, openAiResponsesApi));
  registerStoredResponsesRoutes(app, services, RESPONSES_PATH);
}
