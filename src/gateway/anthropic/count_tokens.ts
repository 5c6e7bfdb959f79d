/**
 * POST /v1/messages/count_tokens (Anthropic; Claude Code calls it before its requests): passed
 * through unbilled to the `anthropic`-protocol provider serving the model, as Anthropic charges
 * nothing for it. A model no provider lists (when unrouted models are simulated) gets a local
 * estimate in the same shape, `{"input_tokens": n}`: the count the simulated model's own
 * `/v1/messages` answer would report for that conversation. Errors use Anthropic's shape.
 */
import type { Hono } from "hono";
import { ApiError, describeIssue } from "../../http/errors.ts";
import { readJsonBody } from "../../http/request.ts";
import type { Services } from "../../services.ts";
import { counterFor } from "../../usage/counting.ts";
import { handleUnbilled, modelRoute, requestTenant } from "../admission.ts";
import { refuseExhausted } from "../budget.ts";
import { countPrompt, refuseLongPrompt } from "../handler.ts";
import { passThrough } from "../passthrough.ts";
import {
  conversationOf,
  conversationSchema,
  MESSAGES_PATH,
  renderAnthropicError,
} from "./route.ts";
import { anthropicUpstream } from "./upstream.ts";

/** The route's path. */
export const COUNT_TOKENS_PATH = `${MESSAGES_PATH}/count_tokens`;

/** Registers POST /v1/messages/count_tokens. */
export function registerCountTokensRoute(app: Hono, services: Services): void {
  app.post(
    COUNT_TOKENS_PATH,
    (c) =>
      handleUnbilled(c, services, renderAnthropicError, async (requestId) => {
        const headers = c.req.raw.headers;
        await refuseExhausted(services, requestTenant(services, headers));
        const raw = await readJsonBody(
          c.req.raw,
          services.config.maxBodyBytes,
          services.config.bodyTimeoutMs,
        );
        const parsed = conversationSchema.safeParse(raw);
        if (!parsed.success) throw new ApiError("invalid_request", describeIssue(parsed.error));
        const conversation = conversationOf(parsed.data);
        refuseLongPrompt(services, conversation.messages.map((m) => m.content), "messages");
        const model = parsed.data.model;
        const route = modelRoute(services, model, "anthropic");
        if (!route) {
          const counter = counterFor(services.prices.resolve(model));
          return Response.json({ input_tokens: countPrompt(counter, conversation) });
        }
        const { provider, upstreamModel } = route;
        return await passThrough(services, {
          provider,
          operation: "count_tokens",
          subject: upstreamModel,
          method: "POST",
          path: `${anthropicUpstream.path}/count_tokens`,
          headers: anthropicUpstream.headers(provider, headers),
          body: JSON.stringify({ ...raw as Record<string, unknown>, model: upstreamModel }),
          requestId,
          clientSignal: c.req.raw.signal,
          protocol: anthropicUpstream,
        });
      }),
  );
}
