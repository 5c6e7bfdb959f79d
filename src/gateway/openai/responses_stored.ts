/**
 * GET and DELETE /v1/responses/{id}: a stored response fetched or deleted at the provider that
 * made it, passed through unbilled (the provider charges nothing for them). A response id does not
 * say which provider made it, so the client names it in the `x-inference-provider` header, or the
 * one `openai`-protocol provider of the providers file is used. The simulated model stores no
 * responses: without any such provider the answer is 404.
 */
import type { Context, Hono } from "hono";
import { ApiError } from "../../http/errors.ts";
import type { Services } from "../../services.ts";
import type { Provider } from "../../providers/providers.ts";
import { handleUnbilled, requestTenant } from "../admission.ts";
import { refuseExhausted } from "../budget.ts";
import { passThrough } from "../passthrough.ts";
import { renderOpenAiError } from "./route.ts";
import { openAiErrorFields, openAiHeaders } from "./upstream.ts";

/** The header naming the provider a stored response is at. */
export const PROVIDER_HEADER = "x-inference-provider";

/** The provider holding stored responses: the one named, or the only `openai`-protocol one. */
function storingProvider(services: Services, named: string | undefined, id: string): Provider {
  const providers = services.config.providers.providers.filter((p) => p.protocol === "openai");
  if (named !== undefined) {
    const provider = providers.find((p) => p.name === named);
    if (provider) return provider;
    throw new ApiError(
      "invalid_request",
      `${PROVIDER_HEADER}: no openai-protocol provider is named ${
        JSON.stringify(named.slice(0, 100))
      } (known: ${providers.map((p) => p.name).join(", ") || "none"})`,
      { param: PROVIDER_HEADER },
    );
  }
  if (providers.length === 1) return providers[0];
  if (providers.length === 0) {
    throw new ApiError(
      "not_found",
      `response ${
        JSON.stringify(id.slice(0, 100))
      } not found: responses of the simulated model are not stored, and no openai-protocol provider is configured`,
    );
  }
  throw new ApiError(
    "invalid_request",
    `${PROVIDER_HEADER}: several openai-protocol providers could hold this response (${
      providers.map((p) => p.name).join(", ")
    }); name the one that made it in the ${PROVIDER_HEADER} header`,
    { param: PROVIDER_HEADER },
  );
}

/** Registers GET and DELETE `<path>/{id}`. */
export function registerStoredResponsesRoutes(app: Hono, services: Services, path: string): void {
  const handler = (method: "GET" | "DELETE") => (c: Context) =>
    handleUnbilled(c, services, renderOpenAiError, async (requestId) => {
      const headers = c.req.raw.headers;
      await refuseExhausted(services, requestTenant(services, headers));
      const id = c.req.param("id") ?? "";
      const provider = storingProvider(services, headers.get(PROVIDER_HEADER) ?? undefined, id);
      const query = new URL(c.req.url).search;
      return await passThrough(services, {
        provider,
        operation: method === "GET" ? "retrieve_response" : "delete_response",
        subject: id,
        method,
        path: `/responses/${encodeURIComponent(id)}${query}`,
        headers: openAiHeaders(provider),
        requestId,
        clientSignal: c.req.raw.signal,
        protocol: { errorFields: openAiErrorFields },
      });
    });
  app.get(`${path}/:id`, handler("GET"));
  app.delete(`${path}/:id`, handler("DELETE"));
}
