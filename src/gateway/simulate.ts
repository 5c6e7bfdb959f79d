/**
 * A chat turn served by the embedded simulated model, in the route's own API shape; streams go
 * through the same relay as an upstream's.
 */
import { localUsage } from "../usage/record.ts";
import type { TokenUsage } from "../pricing/pricing.ts";
import { ClientGone, type StreamStep } from "./upstream.ts";
import { clientClosed, finishedHeaders, type Turn } from "./endings.ts";
import { relay, type StreamPieces } from "./relay.ts";
import { jsonResponse } from "../http/response.ts";

/** Answers the turn from the simulated model. */
export async function simulate(turn: Turn): Promise<Response> {
  const { services, api, call, request, counter, promptTokens } = turn;
  // The model cuts its reply with the route's own counter and reports the count: the reply's
  // tokens are counted once.
  const generation = {
    model: request.model,
    messages: request.messages,
    maxTokens: turn.maxOutput,
    counter,
  };
  const id = crypto.randomUUID().replaceAll("-", "");
  const responseModel = call.price?.id ?? request.model;

  if (!request.stream) {
    const signal = turn.clientSignal;
    let result;
    try {
      result = await services.backend.generate({ ...generation, signal });
    } catch (error) {
      if (!signal.aborted) throw error;
      return await clientClosed(turn);
    }
    const usage = localUsage(promptTokens, result.outputTokens ?? counter.count(result.text));
    const record = await call.finish({
      usage,
      usageSource: "estimated",
      tokenCountMethod: counter.method,
      responseModel,
      completion: result.text,
    });
    return jsonResponse(
      JSON.stringify(
        api.simulated.completion(request, id, result.text, result.finishReason, usage),
      ),
      200,
      finishedHeaders(call, record),
    );
  }

  // Only a stream's leg aborts the model (the relay's idle deadline, a failed write).
  const controller = new AbortController();
  const signal = AbortSignal.any([turn.clientSignal, controller.signal]);
  let usage: TokenUsage | undefined;
  let finished = false;
  const shape = api.simulated.stream(request, id);
  async function* steps(): AsyncGenerator<StreamStep> {
    for (const frame of shape.start(promptTokens)) yield { frame, text: "" };
    let text = "";
    for await (const event of services.backend.stream({ ...generation, signal })) {
      if (event.kind === "text") {
        text += event.text;
        yield { frame: shape.text(event.text), text: event.text };
        continue;
      }
      usage = localUsage(promptTokens, counter.count(text));
      finished = true;
      const frames = shape.end(text, event.finishReason, usage);
      for (let i = 0; i < frames.length; i++) {
        yield { frame: frames[i], text: "", final: i === frames.length - 1 };
      }
    }
  }
  return await relay(turn, {
    pieces: new FramePieces(steps()),
    usageSource: "estimated",
    reader: {
      usage: () => usage,
      inputUsage: () => undefined,
      finished: () => finished,
      model: () => undefined,
    },
    leg: {
      failure: (error) =>
        signal.aborted ? new ClientGone("client closed the request") : error as Error,
      end: () => {},
      abort: () => controller.abort(),
    },
    fallbackModel: responseModel,
  });
}

const encoder = new TextEncoder();

/** The simulated model's frames as the relay's pieces, one frame each. */
class FramePieces implements StreamPieces {
  final = false;
  readonly errorMessage = undefined;
  carriedText = false;
  #text = "";

  constructor(private readonly steps: AsyncGenerator<StreamStep>) {}

  async next(): Promise<Uint8Array | null> {
    const step = await this.steps.next();
    if (step.done) return null;
    const { frame, text, final } = step.value;
    this.#text += text;
    this.carriedText = text !== "";
    this.final = final === true;
    return encoder.encode(frame ?? "");
  }

  text(): string {
    return this.#text;
  }

  stop(): void {
    void this.steps.return(undefined).catch(() => {});
  }
}
