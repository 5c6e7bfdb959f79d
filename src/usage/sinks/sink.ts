/**
 * Where a finished request's usage record goes. Every sink reads only the record; none reaches
 * back into the request or into another sink.
 *
 * Adding a sink: implement {@link UsageSink} in a file of this folder and add it to the list
 * `createServices()` builds (or pass it in `ServiceOverrides.sinks`). A sink that only counts
 * (metrics, log) returns nothing and costs the request no await. A sink that must be durable
 * before the client is answered (a ledger write) returns a promise: the call awaits every
 * returned promise before `finish()` resolves, so a non-streamed response is built, and a
 * stream's last frame sent, only after the write. A rejected promise is logged and does not stop
 * the other sinks.
 */
import type { UsageRecord } from "../record.ts";

/** One consumer of usage records. */
export interface UsageSink {
  /** A short name for the log line when the sink fails (`metrics`, `span`, `ledger`, …). */
  readonly name: string;
  /** Records one finished request; a returned promise is awaited before the response ends. */
  record(record: UsageRecord): void | Promise<void>;
}

/**
 * Two sinks in order: `next` reads the record once `first`'s write has settled, committed or
 * failed (the live page publishes a request only after the ledger committed it). A failure of
 * `first` still rejects the pair, so the call logs it under `first`'s name.
 */
export function inOrder(first: UsageSink, next: UsageSink): UsageSink {
  return {
    name: first.name,
    record(record) {
      const written = first.record(record);
      if (!written) return next.record(record);
      // then/then rather than finally: one promise fewer on every request.
      return written.then(() => next.record(record), async (error) => {
        await next.record(record);
        throw error;
      });
    },
  };
}
