/**
 * The embedded simulated model: deterministic (same request, same reply), needs no keys.
 * `echo` answers the reference tutorial's `Response to: <first 50 chars of prompt>...`;
 * `realistic` writes up to max_tokens of filler text, paced by a latency model (time to first
 * token, then a fixed time per token). Both are cut to max_tokens.
 */
import type { Backend, GenerationRequest, StreamEvent } from "./types.ts";

/** Settings of the simulated model. */
export interface SimulatedOptions {
  readonly mode: "echo" | "realistic";
  readonly ttftMs: number;
  readonly tokenMs: number;
  /** Counts tokens of a reply for `model`, to cut it to max_tokens. */
  readonly countTokens: (model: string, text: string) => number;
  /** Waits `ms` unless aborted; replaceable so tests need not sleep. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const WORDS = (
  "the model considers context tokens cost budget latency tenant request answer stream cache " +
  "price metric trace span signal window spend forecast prompt reply system user assistant " +
  "inference gateway provider quota alert dashboard sample series label value rate"
).split(" ");

/** The first `n` code points of `text` (never splits a surrogate pair), without copying the rest. */
function firstCodePoints(text: string, n: number): string {
  let end = 0;
  for (let i = 0; i < n && end < text.length; i++) {
    const code = text.charCodeAt(end);
    end += code >= 0xd800 && code <= 0xdbff && end + 1 < text.length ? 2 : 1;
  }
  return text.slice(0, end);
}

/** FNV-1a over the string: a cheap, stable seed for the deterministic reply. */
function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function realisticText(seed: number, words: number): string {
  let state = seed || 1;
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out.push(WORDS[(state >>> 0) % WORDS.length]);
  }
  return out.join(" ") + ".";
}

/**
 * The longest prefix of `text` (on code point boundaries) with at most `max` tokens, and its
 * token count (so the reply is not counted again).
 */
function cutToTokens(
  text: string,
  max: number,
  count: (t: string) => number,
): { text: string; tokens: number } {
  const whole = count(text);
  if (whole <= max) return { text, tokens: whole };
  const points = Array.from(text);
  let lo = 0;
  let loTokens = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    const tokens = count(points.slice(0, mid).join(""));
    if (tokens <= max) {
      lo = mid;
      loTokens = tokens;
    } else hi = mid - 1;
  }
  return { text: points.slice(0, lo).join(""), tokens: loTokens };
}

const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });

/** Builds the simulated model backend. */
export function createSimulatedBackend(options: SimulatedOptions): Backend {
  const sleep = options.sleep ?? defaultSleep;
  const reply = (request: GenerationRequest) => {
    const prompt = request.messages.map((m) => m.content).join("\n");
    const full = options.mode === "echo"
      ? `Response to: ${firstCodePoints(prompt, 50)}...`
      : realisticText(seedOf(`${request.model}\n${prompt}`), Math.max(1, request.maxTokens));
    const { counter } = request;
    const count = counter
      ? (t: string) => counter.count(t)
      : (t: string) => options.countTokens(request.model, t);
    const { text, tokens } = cutToTokens(full, request.maxTokens, count);
    const finishReason: "stop" | "length" = options.mode === "realistic" || text !== full
      ? "length"
      : "stop";
    return { text, finishReason, tokens };
  };

  return {
    provider: "simulated",
    async generate(request) {
      const { text, finishReason, tokens } = reply(request);
      if (options.mode === "realistic") {
        await sleep(options.ttftMs + tokens * options.tokenMs, request.signal);
      }
      return request.counter
        ? { text, finishReason, outputTokens: tokens }
        : { text, finishReason };
    },
    async *stream(request): AsyncIterable<StreamEvent> {
      const { text, finishReason } = reply(request);
      const pieces = text.match(/\S+\s*|\s+/g) ?? [];
      const paced = options.mode === "realistic";
      if (paced) await sleep(options.ttftMs, request.signal);
      for (let i = 0; i < pieces.length; i++) {
        if (paced && i > 0) await sleep(options.tokenMs, request.signal);
        yield { kind: "text", text: pieces[i] };
      }
      yield { kind: "done", finishReason };
    },
  };
}
