/**
 * What the fake upstream provider answers, protocol by protocol: OpenAI Chat Completions,
 * Responses (and stored responses) and embeddings, Anthropic Messages and token counts; plain
 * bodies and stream frames, all carrying the same known text and a known usage. The usage is the
 * defaults below, or one given in the published test vectors' terms and written in each
 * protocol's own shape.
 */

/** The text every fake answer carries, in its stream chunks. */
export const TEXT_CHUNKS = ["Hello", " from", " the", " fake", " upstream."];

/** The usage the fake reports in OpenAI's shape: cached tokens inside prompt tokens. */
export const OPENAI_USAGE = {
  prompt_tokens: 1200,
  completion_tokens: 300,
  total_tokens: 1500,
  prompt_tokens_details: { cached_tokens: 1024 },
  completion_tokens_details: { reasoning_tokens: 100 },
};

/** The usage the fake reports in Anthropic's shape: cache reads and writes beside input. */
export const ANTHROPIC_USAGE = {
  input_tokens: 50,
  cache_read_input_tokens: 2000,
  cache_creation_input_tokens: 500,
  output_tokens: 120,
};

/** The same usage as {@link OPENAI_USAGE} in the Responses API's shape. */
export const RESPONSES_USAGE = {
  input_tokens: 1200,
  input_tokens_details: { cached_tokens: 1024 },
  output_tokens: 300,
  output_tokens_details: { reasoning_tokens: 100 },
  total_tokens: 1500,
};

/** The usage of the fake's embeddings. */
export const EMBEDDINGS_USAGE = { prompt_tokens: 8, total_tokens: 8 };

/** The fake's answer to a token count. */
export const COUNTED_TOKENS = { input_tokens: 4242 };

/** The vector the fake answers for every embeddings input. */
export const FAKE_EMBEDDING = [0.25, -0.5, 0.125];

/** A usage in the published test vectors' terms (src/pricing/test-vectors.json). */
export interface ReportedUsage {
  readonly input_tokens: number;
  readonly cached_input_tokens: number;
  readonly cache_write_tokens: number;
  readonly cache_write_1h_tokens?: number;
  readonly output_tokens: number;
  readonly reasoning_tokens?: number;
  readonly service_tier?: string;
}

function openAiUsageOf(u: ReportedUsage) {
  return {
    prompt_tokens: u.input_tokens,
    completion_tokens: u.output_tokens,
    total_tokens: u.input_tokens + u.output_tokens,
    prompt_tokens_details: { cached_tokens: u.cached_input_tokens },
    completion_tokens_details: { reasoning_tokens: u.reasoning_tokens ?? 0 },
  };
}

function responsesUsageOf(u: ReportedUsage) {
  return {
    input_tokens: u.input_tokens,
    input_tokens_details: { cached_tokens: u.cached_input_tokens },
    output_tokens: u.output_tokens,
    output_tokens_details: { reasoning_tokens: u.reasoning_tokens ?? 0 },
    total_tokens: u.input_tokens + u.output_tokens,
  };
}

// Anthropic's input_tokens leave out the cache; the breakdown by duration is sent only when the
// vector has one, so a vector without it tests the 5-minute default.
function anthropicUsageOf(u: ReportedUsage) {
  const usage: Record<string, unknown> = {
    input_tokens: u.input_tokens - u.cached_input_tokens - u.cache_write_tokens,
    cache_read_input_tokens: u.cached_input_tokens,
    cache_creation_input_tokens: u.cache_write_tokens,
    output_tokens: u.output_tokens,
  };
  if (u.cache_write_1h_tokens !== undefined) {
    usage.cache_creation = {
      ephemeral_5m_input_tokens: u.cache_write_tokens - u.cache_write_1h_tokens,
      ephemeral_1h_input_tokens: u.cache_write_1h_tokens,
    };
  }
  return usage;
}

/** What the fake is asked: its path, method and body. */
export interface Asked {
  readonly path: string;
  readonly method: string;
  readonly body: Record<string, unknown>;
  /** The usage to report, or undefined for the defaults above. */
  readonly reported?: ReportedUsage;
  /** False: an OpenAI chat stream never reports usage, whatever the client asked. */
  readonly usageInStream?: boolean;
}

/** The protocol a request to the fake speaks, from its path. */
export function protocolOf(
  path: string,
): "anthropic" | "count_tokens" | "responses" | "stored" | "embeddings" | "openai" {
  const bare = path.split("?")[0];
  if (bare === "/v1/messages") return "anthropic";
  if (bare === "/v1/messages/count_tokens") return "count_tokens";
  if (bare.endsWith("/responses")) return "responses";
  if (/\/responses\/[^/]+$/.test(bare)) return "stored";
  if (bare.endsWith("/embeddings")) return "embeddings";
  return "openai";
}

const TEXT = () => TEXT_CHUNKS.join("");

/** The service tier an OpenAI-shaped answer reports: the usage's, else `default` as OpenAI's do. */
function tierOf(asked: Asked): string {
  return asked.reported?.service_tier ?? "default";
}

function sse(data: unknown, event?: string): string {
  return `${event === undefined ? "" : `event: ${event}\n`}data: ${JSON.stringify(data)}\n\n`;
}

function openAiChunk(
  asked: Asked,
  choices: unknown[],
  usage?: unknown,
): string {
  const body: Record<string, unknown> = {
    id: "chatcmpl-fake",
    object: "chat.completion.chunk",
    created: 1_700_000_000,
    model: String(asked.body.model),
    choices,
  };
  // OpenAI names the tier that serves the answer in every chunk.
  body.service_tier = tierOf(asked);
  if (usage !== undefined) body.usage = usage;
  return `data: ${JSON.stringify(body)}\n\n`;
}

function openAiFrames(asked: Asked): string[] {
  const options = asked.body.stream_options as { include_usage?: boolean } | undefined;
  const withUsage = options?.include_usage === true && asked.usageInStream !== false;
  const usage = withUsage ? null : undefined;
  const reported = asked.reported ? openAiUsageOf(asked.reported) : OPENAI_USAGE;
  return [
    openAiChunk(asked, [{ index: 0, delta: { role: "assistant", content: "" } }], usage),
    ...TEXT_CHUNKS.map((text) =>
      openAiChunk(asked, [{ index: 0, delta: { content: text }, finish_reason: null }], usage)
    ),
    openAiChunk(asked, [{ index: 0, delta: {}, finish_reason: "stop" }], usage),
    ...(withUsage ? [openAiChunk(asked, [], reported)] : []),
    "data: [DONE]\n\n",
  ];
}

function anthropicEvent(type: string, data: Record<string, unknown>): string {
  return sse({ type, ...data }, type);
}

function anthropicFrames(asked: Asked): string[] {
  const usage = asked.reported ? anthropicUsageOf(asked.reported) : ANTHROPIC_USAGE;
  const { output_tokens, ...input } = usage;
  return [
    anthropicEvent("message_start", {
      message: {
        id: "msg_fake",
        type: "message",
        role: "assistant",
        model: asked.body.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...input, output_tokens: 1 },
      },
    }),
    anthropicEvent("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
    anthropicEvent("ping", {}),
    ...TEXT_CHUNKS.map((text) =>
      anthropicEvent("content_block_delta", { index: 0, delta: { type: "text_delta", text } })
    ),
    anthropicEvent("content_block_stop", { index: 0 }),
    anthropicEvent("message_delta", {
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens },
    }),
    anthropicEvent("message_stop", {}),
  ];
}

function outputMessage(status: string, text: string) {
  return {
    id: "msg_fake",
    type: "message",
    status,
    role: "assistant",
    content: status === "in_progress"
      ? []
      : [{ type: "output_text", text, annotations: [], logprobs: [] }],
  };
}

/** A Response object of the fake: in progress, or completed with the text and usage. */
function responseObject(asked: Asked, id: string, done: boolean) {
  return {
    id,
    object: "response",
    created_at: 1_700_000_000,
    status: done ? "completed" : "in_progress",
    error: null,
    incomplete_details: null,
    model: String(asked.body.model ?? "gpt-5"),
    output: done ? [outputMessage("completed", TEXT())] : [],
    service_tier: tierOf(asked),
    usage: done ? (asked.reported ? responsesUsageOf(asked.reported) : RESPONSES_USAGE) : null,
  };
}

function responsesFrames(asked: Asked): string[] {
  let sequence = 0;
  const event = (type: string, data: Record<string, unknown>) =>
    sse({ type, sequence_number: sequence++, ...data }, type);
  const at = { item_id: "msg_fake", output_index: 0, content_index: 0 };
  const part = (text: string) => ({ type: "output_text", text, annotations: [], logprobs: [] });
  return [
    event("response.created", { response: responseObject(asked, "resp_fake", false) }),
    event("response.in_progress", { response: responseObject(asked, "resp_fake", false) }),
    event("response.output_item.added", {
      output_index: 0,
      item: outputMessage("in_progress", ""),
    }),
    event("response.content_part.added", { ...at, part: part("") }),
    ...TEXT_CHUNKS.map((delta) =>
      event("response.output_text.delta", { ...at, delta, logprobs: [] })
    ),
    event("response.output_text.done", { ...at, text: TEXT(), logprobs: [] }),
    event("response.content_part.done", { ...at, part: part(TEXT()) }),
    event("response.output_item.done", {
      output_index: 0,
      item: outputMessage("completed", TEXT()),
    }),
    event("response.completed", { response: responseObject(asked, "resp_fake", true) }),
  ];
}

/** The frames of a streamed answer. */
export function streamFrames(asked: Asked): string[] {
  const protocol = protocolOf(asked.path);
  if (protocol === "anthropic") return anthropicFrames(asked);
  if (protocol === "responses") return responsesFrames(asked);
  return openAiFrames(asked);
}

/** How many frames of a stream come before its `n`-th text chunk has been sent. */
export function framesThroughChunk(path: string, n: number): number {
  // Before the first text: OpenAI's role chunk; Anthropic's message_start, content_block_start
  // and ping; the Responses API's created, in_progress, output_item.added, content_part.added.
  const protocol = protocolOf(path);
  return (protocol === "anthropic" ? 3 : protocol === "responses" ? 4 : 1) + n;
}

/** A float32 vector as OpenAI's base64 encoding writes it. */
export function base64Floats(values: readonly number[]): string {
  const bytes = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((value, i) => bytes.setFloat32(i * 4, value, true));
  let binary = "";
  for (const byte of new Uint8Array(bytes.buffer)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function embeddingsAnswer(asked: Asked) {
  const input = asked.body.input;
  const count = Array.isArray(input) && input.some((item) => typeof item !== "number")
    ? input.length
    : 1;
  const embedding = asked.body.encoding_format === "base64"
    ? base64Floats(FAKE_EMBEDDING)
    : FAKE_EMBEDDING;
  const tokens = asked.reported?.input_tokens ?? EMBEDDINGS_USAGE.prompt_tokens;
  return {
    object: "list",
    data: Array.from({ length: count }, (_, index) => ({ object: "embedding", index, embedding })),
    model: asked.body.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

/** The body of a plain (non-streamed) answer. */
export function plainAnswer(asked: Asked): unknown {
  switch (protocolOf(asked.path)) {
    case "anthropic":
      return {
        id: "msg_fake",
        type: "message",
        role: "assistant",
        model: asked.body.model,
        content: [{ type: "text", text: TEXT() }],
        stop_reason: "end_turn",
        stop_sequence: null,
        usage: asked.reported ? anthropicUsageOf(asked.reported) : ANTHROPIC_USAGE,
      };
    case "count_tokens":
      return COUNTED_TOKENS;
    case "responses":
      return responseObject(asked, "resp_fake", true);
    case "stored": {
      const id = decodeURIComponent(asked.path.split("?")[0].split("/").at(-1)!);
      return asked.method === "DELETE"
        ? { id, object: "response", deleted: true }
        : responseObject(asked, id, true);
    }
    case "embeddings":
      return embeddingsAnswer(asked);
    case "openai": {
      const body: Record<string, unknown> = {
        id: "chatcmpl-fake",
        object: "chat.completion",
        created: 1_700_000_000,
        model: asked.body.model,
        choices: [{
          index: 0,
          message: { role: "assistant", content: TEXT() },
          finish_reason: "stop",
        }],
        usage: asked.reported ? openAiUsageOf(asked.reported) : OPENAI_USAGE,
        service_tier: tierOf(asked),
      };
      return body;
    }
  }
}
