/**
 * The OpenAI Responses protocol, upstream side: `<base_url>/responses` on an `openai`-protocol
 * provider. The client's body goes upstream as sent with only the model name replaced; in
 * particular no `stream_options` is added (the API refuses `include_usage`, and needs none: a
 * stream's usage always arrives in its terminal event).
 *
 * Usage rule: `response.usage.input_tokens` includes `input_tokens_details.cached_tokens`, and
 * `output_tokens` includes `output_tokens_details.reasoning_tokens`; both are taken as reported, so
 * nothing is counted twice. `response.service_tier` picks the rates. A stream ends with
 * `response.completed` (or `response.incomplete`, cut by `max_output_tokens`), which carries the
 * whole response and its usage; `response.failed` ends it as a failure, billed like any stream
 * that broke (its usage when it has one).
 */
import { z } from "zod";
import type { TokenUsage } from "../../pricing/pricing.ts";
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
  type UpstreamProtocol,
} from "../upstream.ts";
import { openAiErrorFields, openAiHeaders, withServiceTier } from "./upstream.ts";

const count = z.number().int().nonnegative();

const usageSchema = z.object({
  input_tokens: count,
  output_tokens: count,
  input_tokens_details: z.object({ cached_tokens: count.nullish() }).loose().nullish(),
  output_tokens_details: z.object({ reasoning_tokens: count.nullish() }).loose().nullish(),
}).loose();

/**
 * A Responses usage normalized, with the service tier the response reports. Undefined when `raw`
 * is not a valid usage object.
 * @example responsesUsage({ input_tokens: 10000, input_tokens_details: { cached_tokens: 8000 }, output_tokens: 500, output_tokens_details: { reasoning_tokens: 300 } }, "flex")
 * // { inputTokens: 10000, cachedInputTokens: 8000, cacheWriteTokens: 0, outputTokens: 500, reasoningTokens: 300, serviceTier: "flex" }
 */
export function responsesUsage(raw: unknown, serviceTier?: string | null): TokenUsage | undefined {
  // No usage at all is the common case (most chunks): answered before the schema, whose failure
  // path builds an error report nobody reads.
  if (typeof raw !== "object" || raw === null) return undefined;
  const parsed = usageSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const u = parsed.data;
  return withServiceTier({
    inputTokens: u.input_tokens,
    cachedInputTokens: Math.min(u.input_tokens_details?.cached_tokens ?? 0, u.input_tokens),
    cacheWriteTokens: 0,
    outputTokens: u.output_tokens,
    reasoningTokens: Math.min(u.output_tokens_details?.reasoning_tokens ?? 0, u.output_tokens),
  }, serviceTier);
}

const textPart = z.object({
  text: z.string().optional(),
  refusal: z.string().optional(),
}).loose();

// The output items whose text is generated: messages (text and refusals), reasoning (its summary
// and text), function and custom tool calls (name and arguments or input).
const outputItemSchema = z.object({
  type: z.string(),
  content: z.array(textPart).nullish(),
  summary: z.array(textPart).nullish(),
  name: z.string().nullish(),
  arguments: z.string().nullish(),
  input: z.string().nullish(),
}).loose();

function itemText(item: z.infer<typeof outputItemSchema>): string {
  const parts = [...item.summary ?? [], ...item.content ?? []];
  return parts.map((p) => (p.text ?? "") + (p.refusal ?? "")).join("") + (item.name ?? "") +
    (item.arguments ?? "") + (item.input ?? "");
}

const responseSchema = z.object({
  model: z.string().optional(),
  output: z.array(z.unknown()).nullish(),
  usage: z.unknown().optional(),
  service_tier: z.string().nullish(),
  error: z.object({ message: z.string().optional() }).loose().nullish(),
}).loose();

/** Generated text of a response's output items; items of other kinds count as nothing. */
function outputText(output: readonly unknown[] | null | undefined): string {
  let text = "";
  for (const raw of output ?? []) {
    const item = outputItemSchema.safeParse(raw);
    if (item.success) text += itemText(item.data);
  }
  return text;
}

const eventSchema = z.object({
  type: z.string(),
  response: responseSchema.optional(),
  delta: z.unknown().optional(),
  message: z.string().optional(),
  error: z.object({ message: z.string().optional() }).loose().nullish(),
}).loose();

// Events whose `delta` is generated text, counted locally when the provider reports no usage.
const TEXT_DELTAS = new Set([
  "response.output_text.delta",
  "response.refusal.delta",
  "response.reasoning_text.delta",
  "response.reasoning_summary_text.delta",
  "response.function_call_arguments.delta",
  "response.custom_tool_call_input.delta",
  "response.mcp_call_arguments.delta",
  "response.code_interpreter_call_code.delta",
]);

const { type: TYPE, delta: DELTA, response: RESPONSE } = keyIds(["type", "delta", "response"]);

/** What the byte scan of an event looks for: its `type`, and a text delta's top-level `delta`. */
export const responsesScanRules: ScanRules = {
  keys: ["type", "delta", "response"],
  keepValues: keyBits(TYPE),
  keepNullRanges: 0,
  textKeys: keyBits(DELTA),
  isText: (depth) => depth === 1,
};

const encoder = new TextEncoder();
// The events read in full: the three endings and errors.
const READ_TYPES = ["response.completed", "response.incomplete", "response.failed", "error"]
  .map((type) => encoder.encode(type));
const TEXT_DELTA_TYPES = [...TEXT_DELTAS].map((type) => encoder.encode(type));

/** Reads one Responses stream; see the module comment for the usage rule. */
class ResponsesStreamReader implements StreamReader {
  readonly rules = responsesScanRules;
  readonly droppedNull = 0;
  #usage?: TokenUsage;
  #model?: string;
  #finished = false;

  triage(scan: SseScanner): Triage {
    if (!scan.json.plainObject || scan.json.valueLength(TYPE) < 0) return Triage.read;
    if (this.#model === undefined && (scan.json.seen & keyBits(RESPONSE)) !== 0) return Triage.read;
    if (scan.json.valueIn(TYPE, READ_TYPES)) return Triage.read;
    return scan.json.valueIn(TYPE, TEXT_DELTA_TYPES) ? Triage.forward : Triage.forwardNoText;
  }

  step(event: SseEvent): StreamStep {
    const raw = parseUpstreamJson(event.data, "a stream event");
    const parsed = eventSchema.safeParse(raw);
    if (!parsed.success) {
      throw new UpstreamError("protocol", "upstream sent a stream event of an unknown shape");
    }
    const data = parsed.data;
    const response = data.response;
    if (response?.model) this.#model ??= response.model;
    switch (data.type) {
      case "response.completed":
      case "response.incomplete":
        this.#finished = true;
        this.#usage = responsesUsage(response?.usage, response?.service_tier);
        return { text: "", final: true };
      case "response.failed":
        this.#usage = responsesUsage(response?.usage, response?.service_tier);
        return {
          text: "",
          final: true,
          errorMessage: response?.error?.message ?? "the response failed",
        };
      case "error":
        return {
          text: "",
          errorMessage: data.message ?? data.error?.message ?? "upstream error",
        };
      default:
        return {
          text: TEXT_DELTAS.has(data.type) && typeof data.delta === "string" ? data.delta : "",
        };
    }
  }

  usage(): TokenUsage | undefined {
    return this.#usage;
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

/** The OpenAI Responses protocol towards an upstream. */
export const responsesUpstream: UpstreamProtocol = {
  protocol: "openai",
  path: "/responses",
  headers: openAiHeaders,
  body: (raw, upstreamModel) => JSON.stringify({ ...raw, model: upstreamModel }),
  readCompletion(text): Completion {
    const parsed = responseSchema.safeParse(parseUpstreamJson(text, "a response"));
    if (!parsed.success) {
      throw new UpstreamError("protocol", "upstream sent a response of an unknown shape");
    }
    const body = parsed.data;
    return {
      usage: responsesUsage(body.usage, body.service_tier),
      text: outputText(body.output),
      model: body.model,
    };
  },
  streamReader: () => new ResponsesStreamReader(),
  errorFields: openAiErrorFields,
};
