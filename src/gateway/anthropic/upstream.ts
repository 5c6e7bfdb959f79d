/**
 * The Anthropic Messages protocol, upstream side: `<base_url>/v1/messages` with the provider's key
 * in `x-api-key` and the client's `anthropic-version` / `anthropic-beta` passed on. The body goes
 * upstream as sent, with the model name from the providers file.
 *
 * Usage rule: Anthropic reports `cache_read_input_tokens` and `cache_creation_input_tokens` beside
 * `input_tokens` (which excludes them), so the normalized input is their sum, each part priced at
 * its own rate. `cache_creation` splits the writes by duration (`ephemeral_5m_input_tokens`,
 * `ephemeral_1h_input_tokens`); without it every write is a 5-minute write. In a stream,
 * `message_start` carries the input side and `message_delta` the cumulative output (and, on newer
 * API versions, final input figures, which then win).
 */
import { z } from "zod";
import type { TokenUsage } from "../../pricing/pricing.ts";
import type { Provider } from "../../providers/providers.ts";
import type { SseEvent } from "../sse.ts";
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

/** The `anthropic-version` sent when the client sent none. */
export const DEFAULT_ANTHROPIC_VERSION = "2023-06-01";

const count = z.number().int().nonnegative();

const inputSideSchema = z.object({
  input_tokens: count.nullish(),
  cache_read_input_tokens: count.nullish(),
  cache_creation_input_tokens: count.nullish(),
  cache_creation: z.object({
    ephemeral_5m_input_tokens: count.nullish(),
    ephemeral_1h_input_tokens: count.nullish(),
  }).loose().nullish(),
}).loose();

const usageSchema = inputSideSchema.extend({ input_tokens: count, output_tokens: count });

type InputSide = z.infer<typeof inputSideSchema>;

function normalize(input: InputSide, outputTokens: number): TokenUsage {
  const read = input.cache_read_input_tokens ?? 0;
  const byDuration = input.cache_creation;
  const write = input.cache_creation_input_tokens ??
    (byDuration?.ephemeral_5m_input_tokens ?? 0) + (byDuration?.ephemeral_1h_input_tokens ?? 0);
  const usage: TokenUsage = {
    inputTokens: (input.input_tokens ?? 0) + read + write,
    cachedInputTokens: read,
    cacheWriteTokens: write,
    outputTokens,
  };
  const writes1h = byDuration?.ephemeral_1h_input_tokens;
  return writes1h ? { ...usage, cacheWrite1hTokens: writes1h } : usage;
}

/**
 * Anthropic's usage normalized: cache reads and writes become parts of the input. Undefined when
 * `raw` is not a valid usage object.
 * @example anthropicUsage({ input_tokens: 50, cache_read_input_tokens: 2000, cache_creation_input_tokens: 500, cache_creation: { ephemeral_5m_input_tokens: 300, ephemeral_1h_input_tokens: 200 }, output_tokens: 120 })
 * // { inputTokens: 2550, cachedInputTokens: 2000, cacheWriteTokens: 500, outputTokens: 120, cacheWrite1hTokens: 200 }
 */
export function anthropicUsage(raw: unknown): TokenUsage | undefined {
  // No usage at all is the common case (most chunks): answered before the schema, whose failure
  // path builds an error report nobody reads.
  if (typeof raw !== "object" || raw === null) return undefined;
  const parsed = usageSchema.safeParse(raw);
  return parsed.success ? normalize(parsed.data, parsed.data.output_tokens) : undefined;
}

// Generated text of a content block or a delta: text, thinking, and tool input JSON are output.
const blockSchema = z.object({
  type: z.string(),
  text: z.string().optional(),
  thinking: z.string().optional(),
  partial_json: z.string().optional(),
  input: z.unknown().optional(),
}).loose();

function blockText(block: z.infer<typeof blockSchema>): string {
  const input = block.type === "tool_use" && block.input !== undefined
    ? JSON.stringify(block.input)
    : "";
  return (block.thinking ?? "") + (block.text ?? "") + (block.partial_json ?? "") + input;
}

const messageSchema = z.object({
  type: z.literal("message"),
  model: z.string().optional(),
  content: z.array(blockSchema),
  usage: z.unknown().optional(),
}).loose();

const eventSchema = z.object({
  type: z.string(),
  message: z.object({ model: z.string().optional(), usage: z.unknown().optional() }).loose()
    .optional(),
  delta: z.object({ stop_reason: z.string().nullish() }).loose().optional(),
  usage: inputSideSchema.extend({ output_tokens: count.nullish() }).optional(),
  error: z.object({ type: z.string().optional(), message: z.string().optional() }).loose()
    .optional(),
}).loose();

const errorBodySchema = z.object({
  error: z.object({ type: z.string().optional(), message: z.string().optional() }).loose(),
}).loose();

const EVENT_KEYS = ["type", "delta", "text", "thinking", "partial_json"] as const;
const { type: TYPE, delta: DELTA, text: TEXT, thinking: THINKING, partial_json: PARTIAL_JSON } =
  keyIds(EVENT_KEYS);

/** What the byte scan of an event looks for: its `type`, and a delta's text, thinking or JSON. */
export const messagesScanRules: ScanRules = {
  keys: EVENT_KEYS,
  keepValues: keyBits(TYPE),
  keepNullRanges: 0,
  textKeys: keyBits(TEXT, THINKING, PARTIAL_JSON),
  isText: (depth, keyAt) => depth === 2 && keyAt[1] === DELTA,
};

const encoder = new TextEncoder();
// The events read in full: those that carry usage, the stop reason or the end, and errors.
const READ_EVENTS = ["message_start", "message_delta", "message_stop", "error"]
  .map((name) => encoder.encode(name));
const CONTENT_BLOCK_DELTA = encoder.encode("content_block_delta");

/** Reads one Messages stream; see the module comment for the usage rule. */
class AnthropicStreamReader implements StreamReader {
  readonly rules = messagesScanRules;
  readonly droppedNull = 0;
  #input: InputSide = {};
  #sawStart = false;
  #outputTokens?: number;
  #model?: string;
  #finished = false;

  triage(scan: SseScanner): Triage {
    if (!scan.json.plainObject || scan.json.valueLength(TYPE) < 0 || scan.eventNameLength === -2) {
      return Triage.read;
    }
    // As in step(): an event's name says what it is, else its type.
    const named = scan.eventNameLength >= 0;
    if (named ? scan.eventNameIn(READ_EVENTS) : scan.json.valueIn(TYPE, READ_EVENTS)) {
      return Triage.read;
    }
    const delta = named
      ? scan.eventNameIs(CONTENT_BLOCK_DELTA)
      : scan.json.valueIs(TYPE, CONTENT_BLOCK_DELTA);
    return delta ? Triage.forward : Triage.forwardNoText;
  }

  step(event: SseEvent): StreamStep {
    const raw = parseUpstreamJson(event.data, "a stream event");
    const parsed = eventSchema.safeParse(raw);
    if (!parsed.success) {
      throw new UpstreamError("protocol", "upstream sent a stream event of an unknown shape");
    }
    const data = parsed.data;
    switch (event.event ?? data.type) {
      case "message_start": {
        this.#sawStart = true;
        this.#model = data.message?.model;
        const input = inputSideSchema.safeParse(data.message?.usage);
        if (input.success) this.#input = input.data;
        return { text: "" };
      }
      case "content_block_delta": {
        const block = blockSchema.safeParse((raw as Record<string, unknown>).delta);
        return { text: block.success ? blockText(block.data) : "" };
      }
      case "message_delta": {
        if (data.delta?.stop_reason) this.#finished = true;
        const usage = data.usage;
        if (usage) {
          if (typeof usage.output_tokens === "number") this.#outputTokens = usage.output_tokens;
          // Newer API versions repeat final input figures here; a present one wins.
          for (
            const key of [
              "input_tokens",
              "cache_read_input_tokens",
              "cache_creation_input_tokens",
              "cache_creation",
            ] as const
          ) {
            if (usage[key] !== undefined && usage[key] !== null) {
              this.#input = { ...this.#input, [key]: usage[key] };
            }
          }
        }
        return { text: "" };
      }
      case "message_stop":
        return { text: "", final: true };
      case "error":
        return { text: "", errorMessage: data.error?.message ?? "upstream error" };
      default:
        return { text: "" };
    }
  }

  usage(): TokenUsage | undefined {
    if (!this.#sawStart || this.#outputTokens === undefined) return undefined;
    return normalize(this.#input, this.#outputTokens);
  }

  inputUsage(): TokenUsage | undefined {
    return this.#sawStart && typeof this.#input.input_tokens === "number"
      ? normalize(this.#input, 0)
      : undefined;
  }

  finished(): boolean {
    return this.#finished;
  }

  model(): string | undefined {
    return this.#model;
  }
}

/** The Anthropic Messages protocol towards an upstream. */
export const anthropicUpstream: UpstreamProtocol = {
  protocol: "anthropic",
  path: "/v1/messages",
  headers(provider: Provider, client: Headers): Record<string, string> {
    const headers: Record<string, string> = {
      "anthropic-version": client.get("anthropic-version") ?? DEFAULT_ANTHROPIC_VERSION,
    };
    const beta = client.get("anthropic-beta");
    if (beta) headers["anthropic-beta"] = beta;
    if (provider.apiKey) headers["x-api-key"] = provider.apiKey.reveal();
    return headers;
  },
  body: (raw, upstreamModel) => JSON.stringify({ ...raw, model: upstreamModel }),
  readCompletion(text): Completion {
    const parsed = messageSchema.safeParse(parseUpstreamJson(text, "a message"));
    if (!parsed.success) {
      throw new UpstreamError("protocol", "upstream sent a message of an unknown shape");
    }
    const body = parsed.data;
    return {
      usage: anthropicUsage(body.usage),
      text: body.content.map(blockText).join(""),
      model: body.model,
    };
  },
  streamReader: () => new AnthropicStreamReader(),
  errorFields(body): UpstreamErrorFields {
    const parsed = errorBodySchema.safeParse(body);
    if (!parsed.success) return {};
    return { type: parsed.data.error.type, message: parsed.data.error.message };
  },
};
