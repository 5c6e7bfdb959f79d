/**
 * The providers file: which upstream serves which model, over which protocol. Validated at
 * start-up; an API key is never in the file, only the name of the environment variable holding
 * it, which config.ts resolves from the environment it was given (this module reads no env).
 */
import { z } from "zod";

/** Wire protocols the gateway speaks to upstreams. Proxying never crosses protocols. */
export const PROTOCOLS = ["openai", "anthropic"] as const;
/** One of {@link PROTOCOLS}. */
export type Protocol = typeof PROTOCOLS[number];

/**
 * A secret value that cannot be printed by accident: string conversion, JSON and Deno's
 * inspector all show `[redacted]`; only {@link Secret.reveal} gives the value, to build the one
 * header that needs it.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The secret itself. Call only where it goes on the wire. */
  reveal(): string {
    return this.#value;
  }
  /** Always `[redacted]`. */
  toString(): string {
    return "[redacted]";
  }
  /** Always `"[redacted]"`. */
  toJSON(): string {
    return "[redacted]";
  }
  [Symbol.for("Deno.customInspect")](): string {
    return "Secret([redacted])";
  }
}

/** One upstream provider as the gateway uses it. */
export interface Provider {
  /** Unique name; the `provider` label and `gen_ai.provider.name`. */
  readonly name: string;
  readonly protocol: Protocol;
  /** What the provider's own SDK takes as its base URL, without a trailing slash. */
  readonly baseUrl: string;
  /** Name of the environment variable the key was read from (safe to show). */
  readonly apiKeyEnv?: string;
  readonly apiKey?: Secret;
  /** Extra fixed, non-secret request headers (e.g. OpenRouter's `HTTP-Referer`). */
  readonly headers: Readonly<Record<string, string>>;
  /** Model name a client sends → model name sent upstream. */
  readonly models: ReadonlyMap<string, string>;
}

/** Where a model is served. */
export interface ModelRoute {
  readonly provider: Provider;
  readonly upstreamModel: string;
}

/** The loaded providers file (empty when PROVIDERS_FILE is not set). */
export interface ProviderDirectory {
  readonly providers: readonly Provider[];
  /** What happens to a model no provider lists: served by the simulated model, or refused. */
  readonly unroutedModels: "simulated" | "reject";
  /** The provider serving `model` (exact name as the client sent it), or undefined. */
  route(model: string): ModelRoute | undefined;
}

/** A providers file that does not validate; the message names the field. */
export class ProvidersError extends Error {
  override name = "ProvidersError";
}

// Headers that carry credentials or that the gateway sets itself; a file may not set them, so a
// key can only come from the environment.
const RESERVED_HEADERS = new Set([
  "authorization",
  "x-api-key",
  "api-key",
  "proxy-authorization",
  "cookie",
  "content-type",
  "content-length",
  "host",
  "traceparent",
  "tracestate",
]);

const baseUrl = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: "custom", message: "must be an absolute http(s) URL" });
    return;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    ctx.addIssue({ code: "custom", message: "must be an http(s) URL" });
  }
  if (url.username || url.password) {
    ctx.addIssue({
      code: "custom",
      message: "must not contain credentials; name the key's variable in api_key_env",
    });
  }
  if (url.search || url.hash) {
    ctx.addIssue({ code: "custom", message: "must not have a query string or fragment" });
  }
});

const modelName = z.string().min(1).max(256);

const providerSchema = z.object({
  name: z.string().regex(
    /^[a-z0-9][a-z0-9_.-]{0,63}$/,
    "must be 1-64 of a-z 0-9 _ . - (it becomes a metric label)",
  ).describe("Unique name: the `provider` metric label and gen_ai.provider.name"),
  protocol: z.enum(PROTOCOLS).describe(
    "Wire protocol: `openai` (Chat Completions) or `anthropic` (Messages)",
  ),
  base_url: baseUrl.describe(
    "The base URL the provider's own SDK takes, e.g. https://api.openai.com/v1 or https://api.anthropic.com",
  ),
  api_key_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name")
    .optional().describe(
      "Name of the environment variable holding the key (never the key); omit for keyless servers",
    ),
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/, "must be a header name"), z.string())
    .default({})
    .superRefine((headers, ctx) => {
      for (const name of Object.keys(headers)) {
        if (RESERVED_HEADERS.has(name.toLowerCase())) {
          ctx.addIssue({
            code: "custom",
            path: [name],
            message: "is set by the gateway; keys come from api_key_env only",
          });
        }
      }
    }).describe("Extra fixed, non-secret request headers"),
  models: z.union([
    z.array(modelName).min(1).transform((names) => Object.fromEntries(names.map((n) => [n, n]))),
    z.record(modelName, modelName).refine((m) => Object.keys(m).length > 0, {
      message: "must list at least one model",
    }),
  ]).describe(
    "Models routed here: a list of names, or a map from the name clients send to the upstream's",
  ),
}).strict();

/** The providers file's schema (also published as providers.schema.json for editors). */
export const providersFileSchema = z.object({
  $schema: z.string().optional(),
  unrouted_models: z.enum(["simulated", "reject"]).default("reject").describe(
    "Models no provider lists: served by the simulated model, or refused with 400 unknown_model",
  ),
  providers: z.array(providerSchema),
}).strict().superRefine((file, ctx) => {
  const names = new Set<string>();
  const routedBy = new Map<string, string>();
  file.providers.forEach((p, i) => {
    if (names.has(p.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["providers", i, "name"],
        message: `duplicate "${p.name}"`,
      });
    }
    names.add(p.name);
    for (const model of Object.keys(p.models)) {
      const other = routedBy.get(model);
      if (other !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["providers", i, "models", model],
          message: `is already routed to provider "${other}"`,
        });
      }
      routedBy.set(model, p.name);
    }
  });
});

/** The providers file's JSON Schema, generated from {@link providersFileSchema}. */
export function providersJsonSchema(): unknown {
  return z.toJSONSchema(providersFileSchema, { io: "input" });
}

/** The directory used when no providers file is configured: every model is simulated. */
export function noProviders(): ProviderDirectory {
  return { providers: [], unroutedModels: "simulated", route: () => undefined };
}

/**
 * Validates parsed providers-file JSON and resolves each `api_key_env` in `env`. Throws
 * {@link ProvidersError} naming the field, or the variable that is missing (never its value).
 */
export function buildProviderDirectory(
  raw: unknown,
  env: Readonly<Record<string, string | undefined>>,
  source = "providers",
): ProviderDirectory {
  const parsed = providersFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ProvidersError(`${source}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const providers: Provider[] = parsed.data.providers.map((p, i) => {
    let apiKey: Secret | undefined;
    if (p.api_key_env !== undefined) {
      const value = env[p.api_key_env];
      if (value === undefined || value.trim() === "") {
        throw new ProvidersError(
          `${source}: providers.${i}.api_key_env: environment variable ${p.api_key_env} (key of provider "${p.name}") is not set`,
        );
      }
      apiKey = new Secret(value.trim());
    }
    return {
      name: p.name,
      protocol: p.protocol,
      baseUrl: p.base_url.replace(/\/+$/, ""),
      apiKeyEnv: p.api_key_env,
      apiKey,
      headers: p.headers,
      models: new Map(Object.entries(p.models)),
    };
  });
  const routes = new Map<string, ModelRoute>();
  for (const provider of providers) {
    for (const [model, upstreamModel] of provider.models) {
      routes.set(model, { provider, upstreamModel });
    }
  }
  return {
    providers,
    unroutedModels: parsed.data.unrouted_models,
    route: (model) => routes.get(model),
  };
}

/** Reads and validates a providers file; errors name the file and the field. */
export function loadProviderDirectory(
  path: string,
  env: Readonly<Record<string, string | undefined>>,
): ProviderDirectory {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    throw new ProvidersError(`${path}: cannot read: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ProvidersError(`${path}: not valid JSON: ${(error as Error).message}`);
  }
  return buildProviderDirectory(raw, env, path);
}
