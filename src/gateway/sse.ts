/**
 * Server-sent events in both directions: reading an upstream's event stream (parsed by
 * eventsource-parser, yielded one event at a time as soon as it is complete, never collected),
 * and writing one event as a frame.
 */
import { createParser } from "eventsource-parser";

/** One event of a stream. */
export interface SseEvent {
  /** The `event:` field, when the stream names its events (Anthropic does, OpenAI does not). */
  readonly event?: string;
  readonly data: string;
}

/** The stream went silent for longer than allowed. */
export class SseIdleTimeout extends Error {
  override name = "SseIdleTimeout";
}

/**
 * Yields the events of an SSE body as they complete. Throws {@link SseIdleTimeout} when no byte
 * arrives for `idleTimeoutMs`, and whatever the body's reader throws when the connection breaks.
 * Ending the iteration early cancels the body.
 */
export async function* readSseEvents(
  body: ReadableStream<Uint8Array>,
  idleTimeoutMs: number,
): AsyncGenerator<SseEvent> {
  const ready: SseEvent[] = [];
  const parser = createParser({
    onEvent: (message) => ready.push({ event: message.event, data: message.data }),
  });
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let finished = false;
  try {
    while (true) {
      const { done, value } = await readWithin(reader, idleTimeoutMs);
      if (done) break;
      parser.feed(value);
      while (ready.length > 0) yield ready.shift()!;
    }
    // As in EventSource, an event cut off before its blank line is discarded at EOF.
    finished = true;
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

async function readWithin<T>(
  reader: ReadableStreamDefaultReader<T>,
  ms: number,
): Promise<ReadableStreamReadResult<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new SseIdleTimeout(`no data from upstream for ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([reader.read(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One SSE frame: optional `event:` line, one `data:` line per line of data, blank line. */
export function sseFrame(data: string, event?: string): string {
  const lines = data.split(/\r\n|\r|\n/).map((line) => `data: ${line}`).join("\n");
  return `${event === undefined ? "" : `event: ${event}\n`}${lines}\n\n`;
}
