/**
 * Reads stack/compose.yaml the way the native launcher needs it: each service's command,
 * environment, working directory, volumes, healthcheck URL and depends_on, with compose-style
 * interpolation from the environment and stack/versions.env.
 */
import { parse } from "yaml";
import { z } from "zod";

const stringList = z.array(z.union([z.string(), z.number()]).transform(String));

const serviceSchema = z.object({
  image: z.string().optional(),
  command: stringList.optional(),
  environment: z.union([
    z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
    z.array(z.string()),
  ]).optional(),
  working_dir: z.string().optional(),
  volumes: z.array(z.string()).default([]),
  healthcheck: z.object({ test: stringList }).optional(),
  depends_on: z.record(z.string(), z.object({ condition: z.string() })).default({}),
  profiles: z.array(z.string()).optional(),
}).loose();

const composeSchema = z.object({
  services: z.record(z.string(), serviceSchema),
  volumes: z.record(z.string(), z.unknown().nullable()).default({}),
}).loose();

export type ComposeService = z.infer<typeof serviceSchema>;
export type ComposeFile = z.infer<typeof composeSchema>;

/** A parsed volume entry: a bind mount of a path, or a named volume. */
export interface Mount {
  kind: "bind" | "volume";
  /** For a bind mount, relative to the project directory (the repository root) as written. */
  source: string;
  target: string;
  readOnly: boolean;
}

/** Parses compose's short volume syntax: `SOURCE:TARGET[:ro]`. */
export function parseMount(spec: string): Mount {
  const [source, target, mode = ""] = spec.split(":");
  if (!source || !target) throw new Error(`volume "${spec}" is not SOURCE:TARGET[:MODE]`);
  const bind = source.startsWith(".") || source.startsWith("/");
  return {
    kind: bind ? "bind" : "volume",
    source,
    target,
    readOnly: mode.split(",").includes("ro"),
  };
}

/** Reads KEY=value lines (stack/versions.env, .env): comments and blank lines skipped. */
export function parseEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (match) values[match[1]] = match[2].trim();
  }
  return values;
}

/**
 * Compose interpolation: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:?error}`, `${VAR?error}`.
 */
export function interpolate(text: string, lookup: (name: string) => string | undefined): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, braced?: string, operator?: string, argument?: string, bare?: string) => {
      if (whole === "$$") return "$";
      const name = braced ?? bare!;
      const value = lookup(name);
      const missing = operator?.startsWith(":") ? !value : value === undefined;
      if (!missing || operator === undefined) return value ?? "";
      if (operator.endsWith("-")) return argument ?? "";
      throw new Error(`${name}: ${argument || "required variable is not set"}`);
    },
  );
}

/** The environment a service's values are interpolated with: the process's, then versions.env. */
export async function interpolationLookup(
  root: string,
): Promise<(name: string) => string | undefined> {
  const versions = parseEnvFile(await Deno.readTextFile(`${root}/stack/versions.env`));
  return (name) => Deno.env.get(name) ?? versions[name];
}

/** Loads and checks stack/compose.yaml (YAML merge keys resolved). */
export async function loadStackCompose(root: string): Promise<ComposeFile> {
  const text = await Deno.readTextFile(`${root}/stack/compose.yaml`);
  const result = composeSchema.safeParse(parse(text, { merge: true }));
  if (!result.success) {
    throw new Error(`stack/compose.yaml: ${z.prettifyError(result.error)}`);
  }
  return result.data;
}

/** A service's environment as a map, values interpolated. */
export function serviceEnvironment(
  service: ComposeService,
  lookup: (name: string) => string | undefined,
): Record<string, string> {
  const environment: Record<string, string> = {};
  const entries = Array.isArray(service.environment)
    ? service.environment.map((item) => {
      const separator = item.indexOf("=");
      return separator < 0
        ? [item, lookup(item) ?? ""]
        : [item.slice(0, separator), item.slice(separator + 1)];
    })
    : Object.entries(service.environment ?? {}).map(([key, value]) => [key, String(value ?? "")]);
  for (const [key, value] of entries) environment[key] = interpolate(value, lookup);
  return environment;
}

/** The http://127.0.0.1:PORT/PATH a service's healthcheck probes, if it has one. */
export function healthcheckTarget(
  service: ComposeService,
): { port: number; path: string } | undefined {
  for (const part of service.healthcheck?.test ?? []) {
    const match = /https?:\/\/(?:127\.0\.0\.1|localhost):(\d+)(\/[^'"\s)]*)?/.exec(part);
    if (match) return { port: Number(match[1]), path: match[2] ?? "/" };
  }
  return undefined;
}

/**
 * Start order as layers: every service's depends_on (restricted to `names`) sits in an earlier
 * layer. Throws on a cycle.
 */
export function startLayers(compose: ComposeFile, names: readonly string[]): string[][] {
  const remaining = new Set(names);
  const done = new Set<string>();
  const layers: string[][] = [];
  while (remaining.size > 0) {
    const layer = [...remaining].filter((name) =>
      Object.keys(compose.services[name]?.depends_on ?? {})
        .filter((dependency) => names.includes(dependency))
        .every((dependency) => done.has(dependency))
    );
    if (layer.length === 0) throw new Error(`depends_on cycle among ${[...remaining].join(", ")}`);
    for (const name of layer) {
      remaining.delete(name);
      done.add(name);
    }
    layers.push(layer);
  }
  return layers;
}
