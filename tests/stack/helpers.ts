/** Shared reading of the stack's files for the validation tests. */
import { join } from "node:path";
import { parse } from "yaml";
import { parseEnvFile } from "../../scripts/stack/compose.ts";
import { REPO_ROOT } from "../../scripts/stack/launcher.ts";

export { REPO_ROOT };

/** The repository file at `path`, as text. */
export function readRepoFile(path: string): Promise<string> {
  return Deno.readTextFile(join(REPO_ROOT, path));
}

/** The repository YAML file at `path`, parsed with merge keys resolved. */
export async function readRepoYaml<T = Record<string, unknown>>(path: string): Promise<T> {
  return parse(await readRepoFile(path), { merge: true }) as T;
}

/** stack/versions.env as a map. */
export async function versionPins(): Promise<Record<string, string>> {
  return parseEnvFile(await readRepoFile("stack/versions.env"));
}

/** True when the path (relative to the repository) exists. */
export async function repoPathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(join(REPO_ROOT, path));
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Runs a program and returns its exit code and combined output. */
export async function run(
  binary: string,
  args: string[],
  cwd = REPO_ROOT,
): Promise<{ code: number; output: string }> {
  const result = await new Deno.Command(binary, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

/** A compose service as these tests read it (raw YAML, before interpolation). */
export interface RawService {
  image?: string;
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
  user?: string;
  restart?: string;
  working_dir?: string;
  networks?: Record<string, { aliases?: string[] } | null>;
}

/** stack/compose.yaml's services, raw. */
export async function composeServices(): Promise<Record<string, RawService>> {
  const compose = await readRepoYaml<{ services: Record<string, RawService> }>(
    "stack/compose.yaml",
  );
  return compose.services;
}
