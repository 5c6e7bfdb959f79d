/** Temporary config files for tests, removed when the callback ends. */

/** Writes `content` as JSON to a temp file, runs `fn(path)`, then removes the file. */
export async function withJsonFile<T>(
  content: unknown,
  fn: (path: string) => Promise<T> | T,
): Promise<T> {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(path, JSON.stringify(content));
    return await fn(path);
  } finally {
    await Deno.remove(path);
  }
}
