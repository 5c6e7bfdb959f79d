/** Concurrency and per-tenant rate limits, decided before any work is done. */

/** The counters behind MAX_CONCURRENT_REQUESTS and each tenant's requests-per-minute limit. */
export interface Limits {
  /** Takes a slot; false when MAX_CONCURRENT_REQUESTS are already in flight. */
  enter(): boolean;
  leave(): void;
  /** Counts a request against the tenant's per-minute limit; false when over it. */
  allowRate(tenantId: string, perMinute: number | undefined, nowMs: number): boolean;
}

/** Limits allowing `maxConcurrent` requests in flight, with fixed one-minute rate windows. */
export function createLimits(maxConcurrent: number): Limits {
  let inFlight = 0;
  const windows = new Map<string, { minute: number; count: number }>();
  return {
    enter() {
      if (inFlight >= maxConcurrent) return false;
      inFlight++;
      return true;
    },
    leave() {
      inFlight--;
    },
    allowRate(tenantId, perMinute, nowMs) {
      if (perMinute === undefined) return true;
      const minute = Math.floor(nowMs / 60_000);
      const w = windows.get(tenantId);
      if (!w || w.minute !== minute) {
        windows.set(tenantId, { minute, count: 1 });
        return true;
      }
      if (w.count >= perMinute) return false;
      w.count++;
      return true;
    },
  };
}
