/**
 * POST /v1/embeddings in OpenAI's shape (`encoding_format` `float` or `base64`), so
 * `client.embeddings.create` works with only its base URL changed. Admitted like every inference
 * route (tenant, price, rate limit, budget reservation of the input at the input rate) and billed
 * from the provider's `usage.prompt_tokens` (`gen_ai.operation.name` = `embeddings`). Proxied to
 * the `openai`-protocol provider listing the model, or answered by the simulated model with
 * deterministic vectors. Errors use OpenAI's shape.
 */
import type { Hono } from "hono";
import { z } from "zod";
import { ApiError, describeIssue } from "../../http/errors.ts";
import { readJsonBody } from "../../http/request.ts";
import type { Services } from "../../services.ts";
import type { InferenceCall } from "../../usage/call.ts";
import { localUsage, type UsageSource } from "../../usage/record.ts";
import type { TokenCounter } from "../../tokens/count.ts";
import type { ModelRoute } from "../../providers/providers.ts";
import type { ModelPrice } from "../../pricing/pricing.ts";
import {
  embeddingBase64,
  nativeDimensions,
  simulatedEmbedding,
} from "../../backends/embeddings.ts";
import { admit, type Admitted, handleInference, modelRoute, requestCaller } from "../admission.ts";
import { callFailedUpstream, finishedHeaders } from "../endings.ts";
import { parseUpstreamJson, UpstreamError, UpstreamExchange } from "../upstream.ts";
import { refuseLongPrompt } from "../handler.ts";
import { renderOpenAiError } from "./route.ts";
import { openAiErrorFields, openAiHeaders } from "./upstream.ts";

/** The route's path. */
export const EMBEDDINGS_PATH = "/v1/embeddings";

/** OpenAI's limit on the inputs of one request. */
const MAX_INPUTS = 2048;

const text = z.string().min(1, "must not be empty");
const tokenIds = z.array(z.number().int().nonnegative()).min(1, "must not be empty");

const bodySchema = z.object({
  model: z.string().min(1).max(256),
  input: z.union([
    text,
    z.array(text).min(1).max(MAX_INPUTS),
    tokenIds,
    z.array(tokenIds).min(1).max(MAX_INPUTS),
  ]),
  encoding_format: z.enum(["float", "base64"]).optional(),
  dimensions: z.number().int().min(1).optional(),
  // The end user, for the spend ledger.
  user: z.string().nullish(),
}).loose();

type Body = z.infer<typeof bodySchema>;

/** The inputs one by one: a text, or a list of token ids. */
function inputsOf(body: Body): (string | number[])[] {
  const { input } = body;
  if (typeof input === "string") return [input];
  if (input.every((item) => typeof item === "number")) return [input as number[]];
  return input as (string | number[])[];
}

function parse(raw: unknown): Body {
  const parsed = bodySchema.safeParse(raw);
  if (!parsed.success) {
    throw new ApiError("invalid_request", describeIssue(parsed.error), {
      param: parsed.error.issues[0].path.join(".") || null,
    });
  }
  return parsed.data;
}

/** Input tokens: each text counted with the model's tokenizer, each token list by its length. */
function countInputs(counter: TokenCounter, inputs: readonly (string | number[])[]): number {
  return inputs.reduce(
    (n: number, item) => n + (typeof item === "string" ? counter.count(item) : item.length),
    0,
  );
}

/** The simulated model embeds only with embeddings models, in at most their own dimensions. */
function checkSimulated(body: Body, price: ModelPrice | undefined): number {
  if (price && price.maxOutputTokens > 0) {
    throw new ApiError(
      "invalid_request",
      `model: ${price.id} writes text; embed with an embeddings model such as text-embedding-3-small`,
      { param: "model" },
    );
  }
  const native = nativeDimensions(price?.id ?? body.model);
  if (body.dimensions !== undefined && body.dimensions > native) {
    throw new ApiError(
      "invalid_request",
      `dimensions: must be at most ${native} for ${price?.id ?? body.model}`,
      { param: "dimensions" },
    );
  }
  return body.dimensions ?? native;
}

/** Registers POST /v1/embeddings. */
export function registerEmbeddingsRoute(app: Hono, services: Services): void {
  app.post(
    EMBEDDINGS_PATH,
    (c) =>
      handleInference(c, services, "embeddings", renderOpenAiError, async (call) => {
        const headers = c.req.raw.headers;
        const caller = requestCaller(services, headers);
        call.tenant = caller.tenant;
        call.keyName = caller.keyName;
        const raw = await readJsonBody(
          c.req.raw,
          services.config.maxBodyBytes,
          services.config.bodyTimeoutMs,
        );
        const body = parse(raw);
        call.requestModel = body.model;
        call.endUser = body.user ?? undefined;
        const inputs = inputsOf(body);
        refuseLongPrompt(
          services,
          inputs.filter((item): item is string => typeof item === "string"),
          "input",
        );
        let route: ModelRoute | undefined;
        let dimensions = 0;
        const admitted = await admit(services, call, {
          tenant: call.tenant,
          model: body.model,
          checkServing: (price) => {
            route = modelRoute(services, body.model, "openai");
            if (!route) dimensions = checkSimulated(body, price);
          },
          countInput: (counter) => countInputs(counter, inputs),
          reservedOutput: () => 0,
        });
        if (call.keepsContent) call.prompt = JSON.stringify(inputs);
        if (route) {
          call.provider = route.provider.name;
          return await proxyEmbeddings(services, call, admitted, route, raw, c.req.raw.signal);
        }
        call.provider = services.backend.provider;
        return await simulateEmbeddings(call, admitted, body, inputs, dimensions);
      }),
  );
}

const answerSchema = z.object({
  model: z.string().optional(),
  data: z.array(z.unknown()),
  usage: z.object({ prompt_tokens: z.number().int().nonnegative() }).loose().nullish(),
}).loose();

/** Proxies the body (model replaced) and passes the provider's answer on, priced from its usage. */
async function proxyEmbeddings(
  services: Services,
  call: InferenceCall,
  admitted: Admitted,
  route: ModelRoute,
  raw: unknown,
  clientSignal: AbortSignal,
): Promise<Response> {
  const { provider, upstreamModel } = route;
  const exchange = new UpstreamExchange({
    tracer: services.tracer,
    parent: call.span,
    operation: "embeddings",
    provider,
    upstreamModel,
    path: "/embeddings",
    headers: openAiHeaders(provider),
    body: JSON.stringify({ ...raw as Record<string, unknown>, model: upstreamModel }),
    stream: false,
    timeoutMs: services.config.upstreamTimeoutMs,
    clientSignal,
    injectTraceparent: !services.config.denoFetchTracing,
  });
  const protocol = { errorFields: openAiErrorFields };
  let text: string;
  let answer: z.infer<typeof answerSchema>;
  let status: number;
  try {
    const response = await exchange.send();
    status = response.status;
    text = await exchange.readText(response);
    const parsed = answerSchema.safeParse(parseUpstreamJson(text, "embeddings"));
    if (!parsed.success) {
      throw new UpstreamError("protocol", "upstream sent embeddings of an unknown shape");
    }
    answer = parsed.data;
  } catch (error) {
    return await callFailedUpstream(call, admitted, protocol, exchange, provider, error);
  }
  const reported = answer.usage ? localUsage(answer.usage.prompt_tokens, 0) : undefined;
  exchange.end(undefined, reported, answer.model);
  const usageSource: UsageSource = reported ? "provider" : "estimated";
  const record = await call.finish({
    usage: reported ?? localUsage(admitted.inputTokens, 0),
    usageSource,
    tokenCountMethod: reported ? "exact" : admitted.counter.method,
    responseModel: answer.model ?? upstreamModel,
  });
  return new Response(text, {
    status,
    headers: { "content-type": "application/json", ...finishedHeaders(call, record) },
  });
}

/** Answers from the simulated model: one deterministic vector per input. */
async function simulateEmbeddings(
  call: InferenceCall,
  admitted: Admitted,
  body: Body,
  inputs: readonly (string | number[])[],
  dimensions: number,
): Promise<Response> {
  const model = call.price?.id ?? body.model;
  const usage = localUsage(admitted.inputTokens, 0);
  const record = await call.finish({
    usage,
    usageSource: "estimated",
    tokenCountMethod: admitted.counter.method,
    responseModel: model,
  });
  const base64 = body.encoding_format === "base64";
  const data = inputs.map((input, index) => {
    const vector = simulatedEmbedding(model, String(input), dimensions);
    return {
      object: "embedding",
      index,
      embedding: base64 ? embeddingBase64(vector) : Array.from(vector),
    };
  });
  return Response.json({
    object: "list",
    data,
    model: body.model,
    usage: { prompt_tokens: usage.inputTokens, total_tokens: usage.inputTokens },
  }, { headers: finishedHeaders(call, record) });
}
