/**
 * Relaying a stream to the client, for the simulated model and upstreams alike: each event is
 * forwarded as it arrives, and the one usage record is written exactly once, whichever way the
 * stream ends.
 */
import { ApiError } from "../http/errors.ts";
import { localUsage, type UsageSource } from "../usage/record.ts";
import type { Provider } from "../providers/providers.ts";
import { ClientGone, type StreamReader, type StreamStep, UpstreamError } from "./upstream.ts";
import { budgetHeaders } from "./admission.ts";
import { type Leg, type Turn, upstreamFailed } from "./endings.ts";

/** A stream being relayed to the client. */
export interface StreamSource {
  readonly steps: AsyncGenerator<StreamStep>;
  readonly usageSource: UsageSource;
  readonly reader: Pick<StreamReader, "usage" | "inputUsage" | "finished" | "model">;
  readonly leg: Leg;
  readonly fallbackModel: string;
  /** The upstream provider, or undefined for the simulated model. */
  readonly provider?: Provider;
}

/**
 * Relays a stream to the client. The first event is awaited before the response starts, so a
 * failure before any byte is still a proper JSON error; after that each event is forwarded as it
 * arrives and nothing is ever retried. The one usage record is written exactly once: at the end
 * marker (before the last frame goes out), when the client leaves, or when the upstream breaks.
 */
export async function relay(turn: Turn, source: StreamSource): Promise<Response> {
  const { call, api, counter, promptTokens } = turn;
  const { reader, leg } = source;
  let first: IteratorResult<StreamStep>;
  try {
    first = await source.steps.next();
    if (first.done) throw new UpstreamError("protocol", "the stream ended before its first event");
  } catch (error) {
    return await upstreamFailed(turn, leg, source.provider, error);
  }

  let pending: StreamStep | undefined = first.value;
  let text = "";
  let ttftSeconds: number | undefined;
  let providerError: string | undefined;
  let settled = false;
  const encoder = new TextEncoder();

  const settle = async (ending: "ok" | "client_closed" | "mid_stream") => {
    if (settled) return;
    settled = true;
    const reported = reader.usage();
    const partial = reader.inputUsage() ?? localUsage(promptTokens, 0);
    // The provider's complete usage wins whenever it arrived; otherwise the prompt (as the
    // provider reported it, or counted here) plus the text streamed so far, marked estimated.
    const usage = reported ?? { ...partial, outputTokens: counter.count(text) };
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
          let step = pending;
          pending = undefined;
          if (!step) {
            const next = await source.steps.next();
            if (settled) return;
            if (next.done) {
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
            step = next.value;
          }
          text += step.text;
          if (step.errorMessage !== undefined) providerError = step.errorMessage;
          if (step.final) {
            await settle(providerError === undefined ? "ok" : "mid_stream");
            if (step.frame) controller.enqueue(encoder.encode(step.frame));
            controller.close();
            void source.steps.return(undefined).catch(() => {});
            return;
          }
          if (step.frame) {
            if (ttftSeconds === undefined && step.text) ttftSeconds = call.elapsedSeconds();
            controller.enqueue(encoder.encode(step.frame));
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
      void source.steps.return(undefined).catch(() => {});
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
