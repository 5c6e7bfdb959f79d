/**
 * The interface every model backend implements: the simulated model and the upstream providers.
 * Backends produce text and, when they know it, the provider's own usage; they never touch metrics
 * or prices: the route turns their result into one usage record.
 */

/** A chat message in the common form. */
export interface ChatMessage {
  readonly role: string;
  readonly content: string;
  readonly name?: string;
}

/** What a backend is asked to produce. */
export interface GenerationRequest {
  /** The model name as the client sent it (canonical id or alias). */
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly maxTokens: number;
  readonly signal: AbortSignal;
}

/** Usage as a provider reported it, normalized: cached and cache-write tokens are within input. */
export interface ReportedUsage {
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly cacheWriteTokens: number;
  readonly outputTokens: number;
}

/** A finished generation. */
export interface Generation {
  readonly text: string;
  readonly finishReason: "stop" | "length";
  /** The provider's usage, when it reported one; otherwise the route counts locally. */
  readonly usage?: ReportedUsage;
  /** The model the provider says answered, when it says. */
  readonly responseModel?: string;
}

/** One streamed piece of a generation. */
export type StreamEvent =
  | { readonly kind: "text"; readonly text: string }
  | {
    readonly kind: "done";
    readonly finishReason: "stop" | "length";
    readonly usage?: ReportedUsage;
  };

/** A model backend. */
export interface Backend {
  /** `gen_ai.provider.name` of what this backend talks to. */
  readonly provider: string;
  generate(request: GenerationRequest): Promise<Generation>;
  stream(request: GenerationRequest): AsyncIterable<StreamEvent>;
}
