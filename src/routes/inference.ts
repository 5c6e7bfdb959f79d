/**
 * POST /v1/inference, the reference tutorial's API: `{prompt, model, tenant, max_tokens}` →
 * `{text, model, input_tokens, output_tokens, cost_usd}`, priced from local token counts.
 */
import type { Hono } from "hono";
import { z } from "zod";
import { ApiError } from "../http/errors.ts";
import { readJsonBody } from "../http/request.ts";
import {
  authenticate,
  budgetHeaders,
  checkRateLimit,
  handleInference,
  renderNativeError,
} from "../http/handle.ts";
import type { Services } from "../services.ts";
import { counterFor } from "../usage/counting.ts";
import { ATTR } from "../telemetry/names.ts";

/** Largest max_tokens accepted before the model's own limit is checked. */
const MAX_TOKENS_CEILING = 1_000_000;

function bodySchema(maxPromptChars: number) {
  return z.object({
    prompt: z.string().min(1, "must not be empty").max(
      maxPromptChars,
      `must be at most ${maxPromptChars} characters (MAX_PROMPT_CHARS)`,
    ),
    model: z.string().min(1).max(256).default("gpt-4o-mini"),
    tenant: z.string().min(1).max(256).optional(),
    max_tokens: z.number().int().min(1).max(MAX_TOKENS_CEILING).default(512),
  });
}

/** Describes the first validation issue as `field: message`. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue.path.join(".") || "body"}: ${issue.message}`;
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
        if (principal) call.tenant = principal.tenant;
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
        call.tenant ??= services.config.tenants.byRequestedId(
          body.tenant ?? headers.get("x-tenant-id") ?? undefined,
        );
        call.requestModel = body.model;
        call.maxTokens = body.max_tokens;
        call.price = services.prices.resolve(body.model);
        if (!call.price && services.config.unpricedPolicy === "reject") {
          throw new ApiError(
            "unknown_model",
            `model "${
              body.model.slice(0, 100)
            }" has no price; add it to the price file (PRICING_FILE) or set UNPRICED_POLICY=allow`,
            { models: [...services.prices.models.keys()] },
          );
        }
        if (call.price && body.max_tokens > call.price.maxOutputTokens) {
          throw new ApiError(
            "invalid_request",
            `max_tokens: must be at most ${call.price.maxOutputTokens} for ${call.price.id}`,
          );
        }
        checkRateLimit(services, call.tenant);

        const counter = counterFor(call.price);
        const inputTokens = counter.count(body.prompt);
        await call.reserve(inputTokens, body.max_tokens);
        call.provider = services.backend.provider;
        const signal = c.req.raw.signal;
        let generation;
        try {
          generation = await services.backend.generate({
            model: body.model,
            messages: [{ role: "user", content: body.prompt }],
            maxTokens: body.max_tokens,
            signal,
          });
        } catch (error) {
          if (!signal.aborted) throw error;
          // The client went away mid-generation: the prompt was processed, so it is billed.
          await call.finish({
            usage: { inputTokens, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 0 },
            usageSource: "estimated",
            tokenCountMethod: counter.method,
            status: "client_closed",
            errorType: "client_closed",
          });
          return new Response(null, { status: 499 });
        }
        const outputTokens = counter.count(generation.text);
        if (services.config.traceContent) {
          call.span.setAttributes({
            [ATTR.prompt]: body.prompt,
            [ATTR.completion]: generation.text,
          });
        }
        const record = await call.finish({
          usage: { inputTokens, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens },
          usageSource: "estimated",
          tokenCountMethod: counter.method,
          responseModel: call.price?.id ?? body.model,
        });
        return c.json(
          {
            text: generation.text,
            model: body.model,
            input_tokens: inputTokens,
            output_tokens: outputTokens,
            cost_usd: record.costUsd,
          },
          200,
          budgetHeaders(call),
        );
      }),
  );
}
