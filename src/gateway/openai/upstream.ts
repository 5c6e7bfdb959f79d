/**
 * The OpenAI Chat Completions protocol, upstream side: what OpenAI itself, vLLM, Ollama,
 * OpenRouter and Groq speak at `<base_url>/chat/completions`. The client's body goes upstream as
 * sent, with two changes: the model name from the providers file, and in a stream
 * `stream_options.include_usage` switched on so the provider reports usage (the reader strips that
 * usage from the client's stream when the client did not ask for it).
 *
 * Usage rule: `prompt_tokens` includes `prompt_tokens_details.cached_tokens`, and
 * `completion_tokens` includes `completion_tokens_details.reasoning_tokens`; both are taken as
 * reported, so nothing is counted twice. The `service_tier` the answer reports (in the body, or in
 * a stream's chunks) picks the rates it is billed at.
 */
import { z } from "zod";
import type { TokenUsage } from "../../pricing/pricing.ts";
import type { Provider } from "../../providers/providers.ts";
import { type SseEvent, sseFrame } from "../sse.ts";
import { keyBits, keyIds, type ScanRules } from "../json_scan.ts";
import type { SseScanner } from "../sse_scan.ts";
import {
  type Completion,
  parseUpstreamJson,
  type StreamReader,
  type StreamStep,
  Triage,
  UpstreamError,
  type UpstreamErrorFields,
  type UpstreamProtocol,
} from "../upstream.ts";

const count = z.number().int().nonnegative();

const usageSchema = z.object({
  prompt_tokens: count,
  completion_tokens: count,
  prompt_tokens_details: z.object({ cached_tokens: count.nullish() }).loose().nullish(),
  completion_tokens_details: z.object({ reasoning_tokens: count.nullish() }).loose().nullish(),
}).loose();

/**
 * OpenAI's usage normalized: cached tokens stay inside input, reasoning inside output; the service
 * tier the answer reports (`null`/absent: none) goes with it. Undefined when `raw` is not a valid
 * usage object.
 * @example openAiUsage({ prompt_tokens: 1200, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 1024 } }, "flex")
 * // { inputTokens: 1200, cachedInputTokens: 1024, cacheWriteTokens: 0, outputTokens: 300, reasoningTokens: 0, serviceTier: "flex" }
 */
export function openAiUsage(raw: unknown, serviceTier?: string | null): TokenUsage | undefined {
  // No usage at all is the common case (most chunks): answered before the schema, whose failure
  // path builds an error report nobody reads.
  if (typeof raw !== "object" || raw === null) return undefined;
  const parsed = usageSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const u = parsed.data;
  return withServiceTier({
    inputTokens: u.prompt_tokens,
    cachedInputTokens: Math.min(u.prompt_tokens_details?.cached_tokens ?? 0, u.prompt_tokens),
    cacheWriteTokens: 0,
    outputTokens: u.completion_tokens,
    reasoningTokens: Math.min(
      u.completion_tokens_details?.reasoning_tokens ?? 0,
      u.completion_tokens,
    ),
  }, serviceTier);
}

/** `usage` with the service tier an OpenAI-protocol answer reported, when it reported one. */
export function withServiceTier(usage: TokenUsage, serviceTier?: string | null): TokenUsage {
  return serviceTier ? { ...usage, serviceTier } : usage;
}

const toolCallsSchema = z.array(
  z.object({
    function: z.object({ name: z.string().nullish(), arguments: z.string().nullish() }).loose()
      .nullish(),
  }).loose(),
).nullish();

// Generated text in a message or a delta: content, the reasoning some servers stream beside it
// (vLLM, DeepSeek, OpenRouter), and tool-call arguments. All of it is output.
const generatedSchema = z.object({
  content: z.string().nullish(),
  reasoning_content: z.string().nullish(),
  reasoning: z.string().nullish(),
  refusal: z.string().nullish(),
  tool_calls: toolCallsSchema,
}).loose();

function generatedText(part: z.infer<typeof generatedSchema> | null | undefined): string {
  if (!part) return "";
  let text = (part.reasoning_content ?? "") + (part.reasoning ?? "") + (part.content ?? "") +
    (part.refusal ?? "");
  for (const call of part.tool_calls ?? []) {
    text += (call.function?.name ?? "") + (call.function?.arguments ?? "");
  }
  return text;
}

const completionSchema = z.object({
  model: z.string().optional(),
  service_tier: z.string().nullish(),
  choices: z.array(z.object({ message: generatedSchema.nullish() }).loose()),
  usage: z.unknown().optional(),
}).loose();

const chunkSchema = z.object({
  model: z.string().optional(),
  service_tier: z.string().nullish(),
  choices: z.array(
    z.object({ delta: generatedSchema.nullish(), finish_reason: z.string().nullish() }).loose(),
  ).nullish(),
  usage: z.unknown().optional(),
  // Groq reports a stream's usage here on its last chunk.
  x_groq: z.object({ usage: z.unknown().optional() }).loose().nullish(),
  error: z.unknown().optional(),
}).loose();

const errorBodySchema = z.object({
  error: z.object({
    message: z.string().optional(),
    type: z.string().nullish(),
    code: z.union([z.string(), z.number()]).nullish(),
    param: z.string().nullish(),
  }).loose(),
}).loose();

const CHUNK_KEYS = [
  "choices",
  "delta",
  "content",
  "reasoning_content",
  "reasoning",
  "refusal",
  "tool_calls",
  "function",
  "name",
  "arguments",
  "usage",
  "finish_reason",
  "error",
  "service_tier",
  "model",
] as const;
const {
  choices: CHOICES,
  delta: DELTA,
  content: CONTENT,
  reasoning_content: REASONING_CONTENT,
  reasoning: REASONING,
  refusal: REFUSAL,
  tool_calls: TOOL_CALLS,
  function: FUNCTION,
  name: NAME,
  arguments: ARGUMENTS,
  usage: USAGE,
  finish_reason: FINISH_REASON,
  error: ERROR,
  service_tier: SERVICE_TIER,
  model: MODEL,
} = keyIds(CHUNK_KEYS);

/**
 * What the byte scan of a chunk looks for. Generated text is where {@link generatedText} reads
 * it: `choices[].delta` content, reasoning and refusal, and the name and arguments of
 * `choices[].delta.tool_calls[].function`.
 */
export const chunkScanRules: ScanRules = {
  keys: CHUNK_KEYS,
  keepValues: keyBits(SERVICE_TIER, MODEL),
  keepNullRanges: keyBits(USAGE),
  textKeys: keyBits(CONTENT, REASONING_CONTENT, REASONING, REFUSAL, NAME, ARGUMENTS),
  isText(depth, keyAt) {
    if (keyAt[1] !== CHOICES || keyAt[3] !== DELTA) return false;
    const key = keyAt[depth];
    if (depth === 4) return key !== NAME && key !== ARGUMENTS;
    return depth === 7 && keyAt[4] === TOOL_CALLS && keyAt[6] === FUNCTION &&
      (key === NAME || key === ARGUMENTS);
  },
};

// Chunks that need a full read: usage (also Groq's `x_groq.usage`), a stop reason, an error.
const READ_WHEN_SEEN = keyBits(USAGE, FINISH_REASON, ERROR);
const encoder = new TextEncoder();

/** Reads one OpenAI-protocol stream; see the module comment for the usage rule. */
class OpenAiStreamReader implements StreamReader {
  readonly rules = chunkScanRules;
  readonly droppedNull = USAGE;
  #usage?: TokenUsage;
  #model?: string;
  #serviceTier?: string;
  #serviceTierBytes = new Uint8Array(0);
  #finished = false;

  constructor(private readonly clientAskedUsage: boolean) {}

  triage(scan: SseScanner): Triage {
    if (scan.isDone) return Triage.end;
    if (!scan.json.plainObject || (scan.json.seen & READ_WHEN_SEEN) !== 0) return Triage.read;
    // A tier other than the last one named is read in full, which keeps it.
    if ((scan.json.seen & keyBits(SERVICE_TIER)) !== 0) {
      if (!scan.json.valueIs(SERVICE_TIER, this.#serviceTierBytes)) return Triage.read;
    }
    if (this.#model === undefined && scan.json.valueLength(MODEL) < 0) return Triage.read;
    const triage = this.#forwarding(scan);
    if (triage !== Triage.read) this.#model ??= scan.json.valueText(MODEL);
    return triage;
  }

  #forwarding(scan: SseScanner): Triage {
    if (this.clientAskedUsage || (scan.json.top & keyBits(USAGE)) === 0) return Triage.forward;
    // `"usage": null` the client did not ask for goes; a chunk without choices goes whole (read).
    return (scan.json.filledArrays & keyBits(CHOICES)) !== 0 &&
        (scan.json.nullRanges & keyBits(USAGE)) !== 0
      ? Triage.forwardWithoutNull
      : Triage.read;
  }

  step(event: SseEvent): StreamStep {
    if (event.data.trim() === "[DONE]") return { text: "", final: true };
    const raw = parseUpstreamJson(event.data, "a stream chunk");
    const parsed = chunkSchema.safeParse(raw);
    if (!parsed.success) {
      throw new UpstreamError("protocol", "upstream sent a stream chunk of an unknown shape");
    }
    const chunk = parsed.data;
    if (chunk.error !== undefined && chunk.error !== null) {
      const fields = errorBodySchema.safeParse(raw);
      return {
        text: "",
        errorMessage: fields.success
          ? fields.data.error.message ?? "upstream error"
          : "upstream error",
      };
    }
    this.#model ??= chunk.model;
    // Every chunk may name the tier; the last one named is the one that served the answer.
    if (chunk.service_tier && chunk.service_tier !== this.#serviceTier) {
      this.#serviceTier = chunk.service_tier;
      this.#serviceTierBytes = encoder.encode(chunk.service_tier);
    }
    const choices = chunk.choices ?? [];
    if (choices.some((c) => c.finish_reason)) this.#finished = true;
    const usage = openAiUsage(chunk.usage) ?? openAiUsage(chunk.x_groq?.usage);
    if (usage) this.#usage = usage;
    const text = choices.map((c) => generatedText(c.delta)).join("");

    if (this.clientAskedUsage || !("usage" in (raw as Record<string, unknown>))) return { text };
    // The client did not ask for usage: the usage-only chunk is dropped, and a content chunk
    // loses the `usage` field the client would not have seen.
    if (choices.length === 0) return { frame: null, text };
    const { usage: _dropped, ...rest } = raw as Record<string, unknown>;
    return { frame: sseFrame(JSON.stringify(rest), event.event), text };
  }

  usage(): TokenUsage | undefined {
    return this.#usage && withServiceTier(this.#usage, this.#serviceTier);
  }

  inputUsage(): TokenUsage | undefined {
    return undefined;
  }

  finished(): boolean {
    return this.#finished;
  }

  model(): string | undefined {
    return this.#model;
  }
}

/** The OpenAI Chat Completions protocol towards an upstream. */
export const openAiUpstream: UpstreamProtocol = {
  protocol: "openai",
  path: "/chat/completions",
  headers: openAiHeaders,
  body(raw, upstreamModel) {
    const body: Record<string, unknown> = { ...raw, model: upstreamModel };
    if (raw.stream === true) {
      const options = typeof raw.stream_options === "object" && raw.stream_options !== null
        ? raw.stream_options
        : {};
      body.stream_options = { ...options, include_usage: true };
    }
    return JSON.stringify(body);
  },
  readCompletion(text): Completion {
    const parsed = completionSchema.safeParse(parseUpstreamJson(text, "a completion"));
    if (!parsed.success) {
      throw new UpstreamError("protocol", "upstream sent a completion of an unknown shape");
    }
    const body = parsed.data;
    return {
      usage: openAiUsage(body.usage, body.service_tier),
      text: body.choices.map((c) => generatedText(c.message)).join(""),
      model: body.model,
    };
  },
  streamReader: (clientAskedUsage) => new OpenAiStreamReader(clientAskedUsage),
  errorFields: openAiErrorFields,
};

/** The fields of an OpenAI-shaped error body, `{"error":{"message","type","code","param"}}`. */
export function openAiErrorFields(body: unknown): UpstreamErrorFields {
  const parsed = errorBodySchema.safeParse(body);
  if (!parsed.success) return {};
  const { message, type, code, param } = parsed.data.error;
  return { message, type: type ?? undefined, code, param };
}

/** The headers of every OpenAI-protocol call: the provider's key, never the client's. */
export function openAiHeaders(provider: Provider): Record<string, string> {
  return provider.apiKey ? { authorization: `Bearer ${provider.apiKey.reveal()}` } : {};
}
