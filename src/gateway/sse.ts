/**
 * Server-sent events as text: one event read from its lines (for the few events of an upstream's
 * stream that are read in full; sse_scan.ts finds where they begin and end), and one event
 * written as a frame.
 */

/** One event of a stream. */
export interface SseEvent {
  /** The `event:` field, when the stream names its events (Anthropic does, OpenAI does not). */
  readonly event?: string;
  readonly data: string;
}

/**
 * The event in `text` (one event's lines), read as EventSource reads it: `data:` lines joined by
 * LF, the last `event:` name (empty: none), one space after a colon dropped, comments and other
 * fields ignored. Undefined when it has no `data:` line.
 */
export function parseSseEvent(text: string): SseEvent | undefined {
  let event: string | undefined;
  let data: string | undefined;
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === "" || line[0] === ":") continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value[0] === " ") value = value.slice(1);
    if (field === "data") data = data === undefined ? value : `${data}\n${value}`;
    else if (field === "event") event = value || undefined;
  }
  return data === undefined ? undefined : { event, data };
}

/** One SSE frame: optional `event:` line, one `data:` line per line of data, blank line. */
export function sseFrame(data: string, event?: string): string {
  const lines = data.split(/\r\n|\r|\n/).map((line) => `data: ${line}`).join("\n");
  return `${event === undefined ? "" : `event: ${event}\n`}${lines}\n\n`;
}
