/** Polling and JSON fetching for tests that talk to real processes. */

/**
 * Polls `probe` every `intervalMs` until it returns a value, or fails at `deadline` (epoch ms)
 * with its last error. A probe that throws or returns undefined is simply not ready yet.
 */
export async function eventually<T>(
  what: string,
  deadline: number,
  probe: () => Promise<T | undefined>,
  intervalMs = 250,
): Promise<T> {
  let last = "no answer yet";
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      last = "not there yet";
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`${what} did not happen in time; last: ${last}`);
}

/** GETs (or sends `init`) and parses JSON; a non-2xx answer throws with its body. */
export async function fetchJson<T>(
  url: string,
  init?: RequestInit,
  timeoutMs = 10_000,
): Promise<T> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}
