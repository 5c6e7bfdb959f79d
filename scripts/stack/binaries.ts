/**
 * Finds the native stack's binaries through scripts/install-stack.sh, the one place that knows
 * where the version-keyed cache is.
 */

/** Absolute paths of the programs scripts/install-stack.sh builds. */
export interface StackBinaries {
  prometheus: string;
  promtool: string;
  alertmanager: string;
  amtool: string;
  otelcol: string;
  jaeger: string;
  /** The Docker Compose CLI, for `docker-compose config` without an engine. */
  "docker-compose": string;
}

const names: ReadonlyArray<keyof StackBinaries> = [
  "prometheus",
  "promtool",
  "alertmanager",
  "amtool",
  "otelcol",
  "jaeger",
  "docker-compose",
];

/** Parses the installer's `name=/path` lines. */
export function parseBinaryPaths(stdout: string): StackBinaries {
  const found: Partial<StackBinaries> = {};
  for (const line of stdout.split("\n")) {
    const separator = line.indexOf("=");
    const name = line.slice(0, separator) as keyof StackBinaries;
    if (separator > 0 && names.includes(name)) found[name] = line.slice(separator + 1).trim();
  }
  const missing = names.filter((name) => !found[name]);
  if (missing.length > 0) {
    throw new Error(`install-stack.sh named no path for ${missing.join(", ")}`);
  }
  return found as StackBinaries;
}

/**
 * The binaries, built first when `install` is true (a fast no-op once cached); otherwise throws
 * naming what is not built yet.
 */
export async function stackBinaries(root: string, install = false): Promise<StackBinaries> {
  const args = [`${root}/scripts/install-stack.sh`, ...(install ? [] : ["--print-paths"])];
  const output = await new Deno.Command("bash", {
    args,
    stdout: "piped",
    stderr: install ? "inherit" : "piped",
  }).output();
  // With install, the build's progress went straight to this process's stderr.
  const stderr = install ? "" : new TextDecoder().decode(output.stderr).trim();
  if (!output.success) {
    throw new Error(
      `native stack binaries are missing: ${
        stderr || `scripts/install-stack.sh exited ${output.code}`
      }`,
    );
  }
  return parseBinaryPaths(new TextDecoder().decode(output.stdout));
}
