/**
 * The interface of the embedded simulated model. It produces text; it never touches metrics or
 * prices: the route turns its result into one usage record, counting tokens itself (or taking
 * the count the backend made with the route's own counter).
 */
import type { ChatMessage, TokenCounter } from "../tokens/count.ts";

/** What the model is asked to produce. */
export interface GenerationRequest {
  /** The model name as the client sent it (canonical id or alias). */
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly maxTokens: number;
  readonly signal: AbortSignal;
  /** The model's token counter the caller prices with; a backend that counts uses this one. */
  readonly counter?: TokenCounter;
}

/** A finished generation. */
export interface Generation {
  readonly text: string;
  readonly finishReason: "stop" | "length";
  /** The reply's tokens by the request's `counter`, when one was given and the backend counted. */
  readonly outputTokens?: number;
}

/** One streamed piece of a generation. */
export type StreamEvent =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "done"; readonly finishReason: "stop" | "length" };

/** A model backend: the simulated model, or a test's replacement for it. */
export interface Backend {
  /** `gen_ai.provider.name` of what this backend talks to. */
  readonly provider: string;
  generate(request: GenerationRequest): Promise<Generation>;
  stream(request: GenerationRequest): AsyncIterable<StreamEvent>;
}
