/**
 * A log writer for the request path: the lines logged are written to stderr together, in one
 * write, every {@link FLUSH_MS} while lines keep coming (or sooner, once 64 Ki characters are
 * pending). Logging each request with `console.error` cost a synchronous write per request, and
 * with OTEL_DENO=true an OTLP log record as well — about a fifth of the server's CPU time per
 * request (docs/benchmarks.md, "Profile findings"). A flush scheduled per event-loop turn instead
 * (`setTimeout(flush, 0)`) still cost a timer per request under load, ~3 µs each (measured): one
 * interval runs while lines arrive and stops after a tick with none. The lines and their order are
 * unchanged; a line reaches stderr at most {@link FLUSH_MS} after it was logged.
 */

/** Where the batches go; stderr by default. */
export type ByteSink = (bytes: Uint8Array) => void;

/** A line writer for {@link createLogger}, plus an explicit flush for exit paths. */
export interface BatchedWriter {
  /** Queues one line (without its newline). */
  write(line: string): void;
  /** Writes everything queued now. */
  flush(): void;
}

/** Writes all of `bytes` to stderr (a write may take only part of them). */
export function writeStderr(bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) offset += Deno.stderr.writeSync(bytes.subarray(offset));
}

/** How often pending lines are written while lines keep coming. */
export const FLUSH_MS = 10;

/**
 * A writer that batches lines, writing them every `flushMs`.
 * @example
 * const out = batchedWriter();
 * const logger = createLogger("info", out.write);
 * addEventListener("unload", () => out.flush());
 */
export function batchedWriter(
  sink: ByteSink = writeStderr,
  maxPendingChars = 64 * 1024,
  flushMs = FLUSH_MS,
): BatchedWriter {
  const encoder = new TextEncoder();
  let pending = "";
  let ticker: ReturnType<typeof setInterval> | undefined;
  const writePending = () => {
    if (pending === "") return;
    const text = pending;
    pending = "";
    sink(encoder.encode(text));
  };
  const stop = () => {
    clearInterval(ticker);
    ticker = undefined;
  };
  return {
    write(line) {
      pending += line + "\n";
      if (pending.length >= maxPendingChars) writePending();
      else if (ticker === undefined) {
        const interval = setInterval(() => {
          // A tick with nothing to write stops the interval until the next line.
          if (pending === "") stop();
          else writePending();
        }, flushMs);
        // Exit paths flush explicitly; pending lines must not hold the process open.
        Deno.unrefTimer(interval);
        ticker = interval;
      }
    },
    flush() {
      stop();
      writePending();
    },
  };
}
