/**
 * What the gateway's layers agree on: a chat request in the common form, and what one
 * client-facing wire protocol supplies (parsing, its error shape, the simulated model's answers in
 * its shape, and its upstream half). The gateway's modules import one way, each only from those
 * before it: contract, budget → admission → endings → relay → proxy / simulate / passthrough →
 * handler; each protocol folder (openai/, anthropic/) builds on them and is registered by the app.
 */
import type { ApiError, ErrorRenderer } from "../http/errors.ts";
import type { TokenUsage } from "../pricing/pricing.ts";
import type { ChatMessage } from "../tokens/count.ts";
import type { UpstreamProtocol } from "./upstream.ts";

/** Largest max_tokens accepted before the model's own limit is checked. */
export const MAX_TOKENS_CEILING = 1_000_000;
/** Output cap of the simulated model when the client sets none (/v1/inference's default too). */
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
  /** The service tier the client asked for (OpenAI's `service_tier`), for the worst case. */
  readonly serviceTier?: string;
  /**
   * The end user the client named, for the spend ledger: OpenAI's `safety_identifier` (or the
   * older `user`), Anthropic's `metadata.user_id`.
   */
  readonly endUser?: string;
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
  /** The frames of one streamed answer; one object per stream, so it may number its events. */
  stream(request: ChatRequest, id: string): SimulatedStream;
}

/** One streamed answer of the simulated model, frame by frame. */
export interface SimulatedStream {
  /** Frames before the first text. */
  start(inputTokens: number): string[];
  text(text: string): string;
  /** Frames after the last text (all of it given); the last one is the protocol's end marker. */
  end(text: string, finishReason: "stop" | "length", usage: TokenUsage): string[];
}

/** One client-facing API: its request parsing, error shape, simulated answers and upstream half. */
export interface ChatApi {
  readonly upstream: UpstreamProtocol;
  readonly renderError: ErrorRenderer;
  readonly simulated: SimulatedShape;
  /** Validates a body; throws ApiError `invalid_request` naming the field. */
  parse(raw: unknown): ChatRequest;
  /** An error event in the API's stream shape, sent before closing a broken stream. */
  streamErrorFrame(error: ApiError): string;
}
