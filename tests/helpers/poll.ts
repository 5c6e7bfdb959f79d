/** Waiting in tests: one poll loop against a deadline, and JSON fetching for real processes. */

/** The deadline (epoch ms) `ms` from now, for {@link eventually}. */
export function within(ms: number): number {
  return Date.now() + ms;
}

/**
 * Polls `probe` until it returns something other than undefined or false, or fails at `deadline`
 * (epoch ms, see {@link within}) naming `what` and what the probe last said. A probe that throws
 * is not ready yet: its message is what the failure reports. Polls every 10 ms at first, backing
 * off to `maxIntervalMs`, so an in-process wait ends at once and a real service is not hammered.
 * @example await eventually("the upstream request is abandoned", within(5_000), () => fake.aborted === 1);
 */
export async function eventually<T>(
  what: string,
  deadline: number,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  maxIntervalMs = 250,
): Promise<Exclude<T, undefined | false>> {
  let last = "no answer yet";
  let interval = 10;
  while (true) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as Exclude<T, undefined | false>;
      last = "not there yet";
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`${what} did not happen in time; last: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(interval, left)));
    interval = Math.min(interval * 2, maxIntervalMs);
  }
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
