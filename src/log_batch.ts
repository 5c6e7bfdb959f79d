/**
 * A log writer for the request path: the lines logged during one turn of the event loop are
 * written to stderr together, in one write, when that turn ends (or sooner, once 64 Ki characters
 * are pending). Logging each request with `console.error` cost a synchronous write per request, and
 * with OTEL_DENO=true an OTLP log record as well — about a fifth of the server's CPU time per
 * request (docs/benchmarks.md, "Profile findings"). The lines and their order are unchanged.
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

/**
 * A writer that batches lines per event-loop turn.
 * @example
 * const out = batchedWriter();
 * const logger = createLogger("info", out.write);
 * addEventListener("unload", () => out.flush());
 */
export function batchedWriter(
  sink: ByteSink = writeStderr,
  maxPendingChars = 64 * 1024,
): BatchedWriter {
  const encoder = new TextEncoder();
  let pending = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (pending === "") return;
    const text = pending;
    pending = "";
    sink(encoder.encode(text));
  };
  return {
    write(line) {
      pending += line + "\n";
      if (pending.length >= maxPendingChars) flush();
      else if (timer === undefined) timer = setTimeout(flush, 0);
    },
    flush,
  };
}
