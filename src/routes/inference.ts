/**
 * POST /v1/inference, the reference tutorial's API: `{prompt, model, tenant, max_tokens}` →
 * `{text, model, input_tokens, output_tokens, cost_usd}`, priced from local token counts and
 * served by the simulated model. Admitted exactly as the chat gateway's routes are.
 */
import type { Hono } from "hono";
import { z } from "zod";
import { ApiError, describeIssue, renderNativeError } from "../http/errors.ts";
import { readJsonBody } from "../http/request.ts";
import { jsonResponse } from "../http/response.ts";
import type { Services } from "../services.ts";
import type { GenerationRequest } from "../backends/types.ts";
import type { ChatMessage, TokenCounter } from "../tokens/count.ts";
import { localUsage } from "../usage/record.ts";
import { MAX_TOKENS_CEILING, SIMULATED_DEFAULT_MAX_TOKENS } from "../gateway/contract.ts";
import {
  admit,
  authenticate,
  billClientLeft,
  budgetHeaders,
  handleInference,
} from "../gateway/admission.ts";

function bodySchema(maxPromptChars: number) {
  return z.object({
    prompt: z.string().min(1, "must not be empty").max(
      maxPromptChars,
      `must be at most ${maxPromptChars} characters (MAX_PROMPT_CHARS)`,
    ),
    model: z.string().min(1).max(256).default("gpt-4o-mini"),
    tenant: z.string().min(1).max(256).optional(),
    max_tokens: z.number().int().min(1).max(MAX_TOKENS_CEILING).default(
      SIMULATED_DEFAULT_MAX_TOKENS,
    ),
  });
}

/**
 * What the route asks the backend for. The client's signal is read only by a backend that waits
 * (the realistic mode's pacing): a served request's signal sets up a cancellation watch of its
 * own, which the echo mode never needs. The getter sits on the class, not on an object literal:
 * a getter in a literal gives every request's object a hidden class of its own, and those classes
 * cost far more in garbage collection than the watch (measured).
 */
class RouteGeneration implements GenerationRequest {
  readonly messages: readonly ChatMessage[];

  constructor(
    readonly model: string,
    prompt: string,
    readonly maxTokens: number,
    readonly counter: TokenCounter,
    private readonly request: Request,
  ) {
    this.messages = [{ role: "user", content: prompt }];
  }

  get signal(): AbortSignal {
    return this.request.signal;
  }
}

/** Registers POST /v1/inference. */
export function registerInferenceRoute(app: Hono, services: Services): void {
  const schema = bodySchema(services.config.maxPromptChars);
  app.post(
    "/v1/inference",
    (c) =>
      handleInference(c, services, "text_completion", renderNativeError, async (call) => {
        const headers = c.req.raw.headers;
        const principal = authenticate(services, headers);
        if (principal) {
          call.tenant = principal.tenant;
          call.keyName = principal.keyName;
        }
        const raw = await readJsonBody(
          c.req.raw,
          services.config.maxBodyBytes,
          services.config.bodyTimeoutMs,
        );
        const parsed = schema.safeParse(raw);
        if (!parsed.success) {
          if (!call.tenant) {
            const named = (raw as { tenant?: unknown } | null)?.tenant;
            call.tenant = services.config.tenants.byRequestedId(
              typeof named === "string" ? named : headers.get("x-tenant-id") ?? undefined,
            );
          }
          throw new ApiError("invalid_request", describeIssue(parsed.error));
        }
        const body = parsed.data;
        const tenant = call.tenant ?? services.config.tenants.byRequestedId(
          body.tenant ?? headers.get("x-tenant-id") ?? undefined,
        );
        const admitted = await admit(services, call, {
          tenant,
          model: body.model,
          maxTokens: body.max_tokens,
          countInput: (counter) => counter.count(body.prompt),
          reservedOutput: () => body.max_tokens,
        });
        const { counter, inputTokens } = admitted;
        if (call.keepsContent) call.prompt = body.prompt;
        call.provider = services.backend.provider;
        const request = c.req.raw;
        let generation;
        try {
          generation = await services.backend.generate(
            new RouteGeneration(body.model, body.prompt, body.max_tokens, counter, request),
          );
        } catch (error) {
          if (!request.signal.aborted) throw error;
          return await billClientLeft(call, admitted);
        }
        const outputTokens = generation.outputTokens ?? counter.count(generation.text);
        const record = await call.finish({
          usage: localUsage(inputTokens, outputTokens),
          usageSource: "estimated",
          tokenCountMethod: counter.method,
          responseModel: call.price?.id ?? body.model,
          completion: generation.text,
        });
        return jsonResponse(
          JSON.stringify({
            text: generation.text,
            model: body.model,
            input_tokens: inputTokens,
            output_tokens: outputTokens,
            cost_usd: record.costUsd,
          }),
          200,
          budgetHeaders(call),
        );
      }),
  );
}
