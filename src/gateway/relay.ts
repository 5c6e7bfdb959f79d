/**
 * Relaying a stream to the client, for the simulated model and upstreams alike: one readable
 * stream pulling pieces (whole events, as bytes) from the source and forwarding each as it
 * arrives; the one usage record is written exactly once, whichever way the stream ends.
 */
import { ApiError } from "../http/errors.ts";
import { localUsage, type UsageSource } from "../usage/record.ts";
import type { Provider } from "../providers/providers.ts";
import { ClientGone, type StreamReader, UpstreamError } from "./upstream.ts";
import { budgetHeaders } from "./admission.ts";
import { type Leg, type Turn, upstreamFailed } from "./endings.ts";

/** Where a relayed stream's bytes come from, piece by piece. */
export interface StreamPieces {
  /**
   * The next bytes for the client, one or more whole events (possibly none, when the end marker
   * is dropped), or null when the stream ended without its end marker. Throws when it broke.
   */
  next(): Promise<Uint8Array | null>;
  /** The last piece ends the stream (it holds the protocol's end marker). */
  readonly final: boolean;
  /** The provider's error reported in the last piece, forwarded with it. */
  readonly errorMessage: string | undefined;
  /** The last piece carried generated text. */
  readonly carriedText: boolean;
  /** The generated text forwarded so far, decoded now: only needed without usage or to trace it. */
  text(): string;
  /** Stops reading: the stream ended or the client left. */
  stop(): void;
}

/** A stream being relayed to the client. */
export interface StreamSource {
  readonly pieces: StreamPieces;
  readonly usageSource: UsageSource;
  readonly reader: Pick<StreamReader, "usage" | "inputUsage" | "finished" | "model">;
  readonly leg: Leg;
  readonly fallbackModel: string;
  /** The upstream provider, or undefined for the simulated model. */
  readonly provider?: Provider;
}

/**
 * Relays a stream to the client. The first piece is awaited before the response starts, so a
 * failure before any byte is still a proper JSON error; after that each piece is forwarded as it
 * arrives and nothing is ever retried. The one usage record is written exactly once: at the end
 * marker (before the last piece goes out), when the client leaves, or when the upstream breaks.
 */
export async function relay(turn: Turn, source: StreamSource): Promise<Response> {
  const { call, api, counter, promptTokens } = turn;
  const { pieces, reader, leg } = source;
  let pending: Uint8Array | null | undefined;
  try {
    pending = await pieces.next();
    if (pending === null) {
      throw new UpstreamError("protocol", "the stream ended before its first event");
    }
  } catch (error) {
    pieces.stop();
    return await upstreamFailed(turn, leg, source.provider, error);
  }

  let ttftSeconds: number | undefined;
  let providerError: string | undefined;
  let settled = false;
  const encoder = new TextEncoder();

  const settle = async (ending: "ok" | "client_closed" | "mid_stream") => {
    if (settled) return;
    settled = true;
    const reported = reader.usage();
    // The text is decoded only when it is billed (no usage reported) or traced.
    const text = reported && !call.keepsContent ? undefined : pieces.text();
    const partial = reader.inputUsage() ?? localUsage(promptTokens, 0);
    // The provider's complete usage wins whenever it arrived; otherwise the prompt (as the
    // provider reported it, or counted here) plus the text streamed so far, marked estimated.
    const usage = reported ?? { ...partial, outputTokens: counter.count(text ?? "") };
    const usageSource: UsageSource = reported ? source.usageSource : "estimated";
    if (ending === "mid_stream") call.upstreamErrorKind = "mid_stream";
    leg.end(ending === "ok" ? undefined : ending, reported, reader.model());
    await call.finish({
      usage,
      usageSource,
      tokenCountMethod: usageSource === "provider" ? "exact" : counter.method,
      status: ending === "ok"
        ? "ok"
        : ending === "client_closed"
        ? "client_closed"
        : "upstream_error",
      errorType: ending === "ok"
        ? undefined
        : ending === "client_closed"
        ? "client_closed"
        : "upstream_error",
      responseModel: reader.model() ?? source.fallbackModel,
      timeToFirstTokenSeconds: ttftSeconds,
      completion: text,
    });
  };

  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        while (!settled) {
          let bytes = pending;
          pending = undefined;
          if (bytes === undefined) {
            bytes = await pieces.next();
            if (settled) return;
          }
          if (bytes === null) {
            if (reader.finished() && providerError === undefined) {
              await settle("ok");
            } else {
              const forwarded = providerError !== undefined;
              await settle("mid_stream");
              if (!forwarded) {
                const error = new ApiError("upstream_error", "the provider's stream ended early");
                controller.enqueue(encoder.encode(api.streamErrorFrame(error)));
              }
            }
            controller.close();
            return;
          }
          if (pieces.errorMessage !== undefined) providerError = pieces.errorMessage;
          if (pieces.final) {
            await settle(providerError === undefined ? "ok" : "mid_stream");
            if (bytes.length > 0) controller.enqueue(bytes);
            controller.close();
            pieces.stop();
            return;
          }
          if (bytes.length > 0) {
            if (ttftSeconds === undefined && pieces.carriedText) {
              ttftSeconds = call.elapsedSeconds();
            }
            controller.enqueue(bytes);
            return;
          }
        }
      } catch (error) {
        if (settled) return;
        const failure = leg.failure(error, "mid_stream");
        if (failure instanceof ClientGone) {
          await settle("client_closed");
          controller.close();
          return;
        }
        if (!(failure instanceof UpstreamError)) {
          turn.services.logger.error("stream relay failed", {
            request_id: call.requestId,
            error: failure.message,
          });
        }
        await settle("mid_stream");
        const message = failure instanceof UpstreamError
          ? `${failure.message}; the response is incomplete`
          : "the response is incomplete";
        controller.enqueue(
          encoder.encode(api.streamErrorFrame(new ApiError("upstream_error", message))),
        );
        controller.close();
      }
    },
    async cancel() {
      leg.abort();
      await settle("client_closed");
      pieces.stop();
    },
  }, { highWaterMark: 0 });

  return new Response(stream, {
    status: 200,
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      // Tells a buffering reverse proxy (nginx) to pass each event on at once.
      "x-accel-buffering": "no",
      ...budgetHeaders(call),
    },
  });
}
