/**
 * GET /v1/models (and /v1/models/{id}): the models this server serves, in OpenAI's list shape, or
 * Anthropic's when the request carries `anthropic-version` (as the Anthropic SDK's does). A model
 * is listed when it can be served: priced (or UNPRICED_POLICY=allow), and routed to a provider or
 * simulated. `owned_by` names who serves it: a provider's name from the providers file, or
 * `simulated`. Nothing about a provider's key or URL is shown.
 */
import type { Context, Hono } from "hono";
import { ApiError } from "../http/errors.ts";
import { requestIdOf } from "../http/request.ts";
import type { Services } from "../services.ts";
import { authenticate } from "../gateway/admission.ts";
import { renderOpenAiError } from "../gateway/openai/route.ts";
import { renderAnthropicError } from "../gateway/anthropic/route.ts";

/** One servable model. */
export interface ListedModel {
  readonly id: string;
  readonly servedBy: string;
}

/** The models the server can serve, routed ones first in providers-file order. */
export function servableModels(services: Services): ListedModel[] {
  const { prices, config } = services;
  const servable = (id: string) =>
    prices.resolve(id) !== undefined || config.unpricedPolicy === "allow";
  const out = new Map<string, ListedModel>();
  for (const provider of config.providers.providers) {
    for (const id of provider.models.keys()) {
      if (servable(id)) out.set(id, { id, servedBy: provider.name });
    }
  }
  if (config.providers.unroutedModels === "simulated") {
    for (const id of prices.models.keys()) {
      if (!out.has(id)) out.set(id, { id, servedBy: services.backend.provider });
    }
  }
  return [...out.values()];
}

/** Registers GET /v1/models and GET /v1/models/{id}. */
export function registerModelsRoutes(app: Hono, services: Services): void {
  // Model lists are dated by the price table they come from.
  const createdSeconds = Math.floor(Date.parse(services.prices.effectiveDate) / 1000);
  const createdAt = new Date(createdSeconds * 1000).toISOString();
  const openAiModel = (m: ListedModel) => ({
    id: m.id,
    object: "model",
    created: createdSeconds,
    owned_by: m.servedBy,
  });
  const anthropicModel = (m: ListedModel) => ({
    type: "model",
    id: m.id,
    display_name: m.id,
    created_at: createdAt,
  });

  const guarded = (c: Context, answer: (anthropic: boolean) => Response): Response => {
    const anthropic = c.req.header("anthropic-version") !== undefined;
    try {
      authenticate(services, c.req.raw.headers);
      return answer(anthropic);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const render = anthropic ? renderAnthropicError : renderOpenAiError;
      return render(error, requestIdOf(c.req.raw.headers));
    }
  };

  app.get("/v1/models", (c) =>
    guarded(c, (anthropic) => {
      const models = servableModels(services);
      if (!anthropic) return c.json({ object: "list", data: models.map(openAiModel) });
      return c.json({
        data: models.map(anthropicModel),
        has_more: false,
        first_id: models[0]?.id ?? null,
        last_id: models.at(-1)?.id ?? null,
      });
    }));

  // Ids may contain slashes (OpenRouter's `meta-llama/llama-3.1-70b-instruct`).
  app.get("/v1/models/:id{.+}", (c) =>
    guarded(c, (anthropic) => {
      const id = c.req.param("id");
      const model = servableModels(services).find((m) => m.id === id);
      if (!model) {
        throw new ApiError(
          "not_found",
          `model ${JSON.stringify(id.slice(0, 100))} is not served here`,
        );
      }
      return c.json(anthropic ? anthropicModel(model) : openAiModel(model));
    }));
}
