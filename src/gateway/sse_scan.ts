/**
 * A byte scanner for an upstream's event stream, so the relay can forward the provider's bytes as
 * they are and read only what pricing needs. One pass over each byte, no copy and no allocation
 * per event: it finds where each event ends (a blank line, after LF, CR or CRLF, wherever the
 * chunks are cut), its `event:` name, whether its data is `[DONE]`, and hands the data (its
 * `data:` lines joined by LF) to a {@link JsonScan}, which the protocol's triage then reads.
 */
import { isSpace, JsonScan, same, type ScanRules } from "./json_scan.ts";
import type { TextTally } from "./text_tally.ts";

const LF = 0x0a, CR = 0x0d, SPACE = 0x20, COLON = 0x3a;
const encoder = new TextEncoder();
const DONE = encoder.encode("[DONE]");
const DATA = encoder.encode("data"), EVENT = encoder.encode("event");
const MAX_EVENT_NAME = 64;

// Line states.
const AT_LINE_START = 0, IN_FIELD = 1, DATA_SPACE = 2, IN_DATA = 3, EVENT_SPACE = 4;
const IN_EVENT = 5, SKIP_LINE = 6;

/** Scans one event stream; feed it the stream's chunks in order. */
export class SseScanner {
  /** Absolute stream offsets of the last event found: its first byte, and just past its end. */
  eventStart = 0;
  eventEnd = 0;
  /** `data:` lines in the event; none: a comment, a heartbeat, an `id:` or `retry:` alone. */
  dataLines = 0;
  /** What the JSON check of the event's data found. */
  readonly json: JsonScan;

  #fresh = true;
  #bomChecked = false;
  #line = AT_LINE_START;
  #afterCr = false;
  readonly #field = new Uint8Array(8);
  #fieldLength = 0;
  readonly #eventName = new Uint8Array(MAX_EVENT_NAME);
  /** Length of the `event:` name; -1 none, -2 too long. */
  #eventNameLength = -1;
  #done = 0;

  constructor(rules: ScanRules, tally: TextTally) {
    this.json = new JsonScan(rules, tally);
  }

  /** True when the event's data is `[DONE]` (OpenAI's end marker), spaces aside. */
  get isDone(): boolean {
    return this.dataLines > 0 && this.#done === DONE.length;
  }

  /** -1 without an `event:` name, -2 when it was too long to keep, else its length. */
  get eventNameLength(): number {
    return this.#eventNameLength;
  }

  /** True when the event's `event:` name is exactly `name`. */
  eventNameIs(name: Uint8Array): boolean {
    return this.#eventNameLength === name.length && same(this.#eventName, 0, name);
  }

  /** True when the event's `event:` name is one of `names`. */
  eventNameIn(names: readonly Uint8Array[]): boolean {
    for (const name of names) if (this.eventNameIs(name)) return true;
    return false;
  }

  /**
   * Scans `chunk` from `from`; `base` is the absolute offset of `chunk[0]`. Returns the index just
   * past the end of the next event (what it found stays readable until the next call), or -1 once
   * the chunk is used up inside an event.
   */
  scan(chunk: Uint8Array, from: number, base: number): number {
    if (this.#fresh) this.#startEvent(base + from);
    let i = from;
    const length = chunk.length;
    if (!this.#bomChecked) {
      // One byte-order mark may open a stream, as in EventSource.
      this.#bomChecked = true;
      if (length - i >= 3 && chunk[i] === 0xef && chunk[i + 1] === 0xbb && chunk[i + 2] === 0xbf) {
        i += 3;
        this.eventStart += 3;
      }
    }
    const json = this.json;
    for (; i < length; i++) {
      const b = chunk[i];
      if (this.#afterCr) {
        this.#afterCr = false;
        if (b === LF) continue;
      }
      switch (this.#line) {
        case AT_LINE_START:
          if (b === LF || b === CR) {
            let end = i + 1;
            if (b === CR) {
              if (end < length) {
                if (chunk[end] === LF) end++;
              } else this.#afterCr = true;
            }
            this.eventEnd = base + end;
            this.#fresh = true;
            return end;
          }
          if (b === COLON) {
            this.#line = SKIP_LINE;
            break;
          }
          this.#fieldLength = 0;
          this.#line = IN_FIELD;
          // falls through
        case IN_FIELD:
          if (b === COLON || b === LF || b === CR) {
            const isData = this.#fieldIs(DATA);
            const isEvent = !isData && this.#fieldIs(EVENT);
            if (isData) this.#startDataLine();
            if (isEvent) this.#eventNameLength = 0;
            if (b !== COLON) {
              this.#endLine(b, chunk, i);
              break;
            }
            this.#line = isData ? DATA_SPACE : isEvent ? EVENT_SPACE : SKIP_LINE;
            break;
          }
          if (this.#fieldLength < this.#field.length) this.#field[this.#fieldLength] = b;
          this.#fieldLength++;
          break;
        case DATA_SPACE:
          this.#line = IN_DATA;
          if (b === SPACE) break;
          // falls through
        case IN_DATA:
          if (this.#done >= 0 && b !== LF && b !== CR) {
            // Could still be `[DONE]`: a byte at a time until it cannot.
            this.#doneStep(b);
            json.feed(b, base + i);
            break;
          }
          i = json.line(chunk, i, base);
          if (i === length) return -1;
          this.#endLine(chunk[i], chunk, i);
          break;
        case EVENT_SPACE:
          this.#line = IN_EVENT;
          if (b === SPACE) break;
          // falls through
        case IN_EVENT:
          if (b === LF || b === CR) {
            this.#endLine(b, chunk, i);
            break;
          }
          if (this.#eventNameLength >= 0) {
            if (this.#eventNameLength < MAX_EVENT_NAME) {
              this.#eventName[this.#eventNameLength++] = b;
            } else this.#eventNameLength = -2;
          }
          break;
        case SKIP_LINE:
          if (b === LF || b === CR) this.#endLine(b, chunk, i);
          break;
      }
    }
    return -1;
  }

  #startEvent(start: number): void {
    this.#fresh = false;
    this.eventStart = start;
    this.dataLines = 0;
    this.#eventNameLength = -1;
    this.#done = 0;
    this.json.reset();
  }

  #fieldIs(name: Uint8Array): boolean {
    return this.#fieldLength === name.length && same(this.#field, 0, name);
  }

  #endLine(b: number, chunk: Uint8Array, i: number): void {
    this.#line = AT_LINE_START;
    if (b === CR) {
      if (i + 1 < chunk.length) {
        if (chunk[i + 1] === LF) this.#afterCr = true;
      } else this.#afterCr = true;
    }
    // An empty `event:` value means no name, as in EventSource.
    if (this.#eventNameLength === 0) this.#eventNameLength = -1;
  }

  #startDataLine(): void {
    // Data lines join with LF: JSON reads it as whitespace, or inside a string as a raw control
    // character, which makes the data invalid, as JSON.parse would say.
    if (this.dataLines++ > 0) {
      if (this.#done >= 0) this.#doneStep(LF);
      this.json.nextLine();
    }
  }

  #doneStep(b: number): void {
    const at = this.#done;
    if (isSpace(b)) {
      if (at !== 0 && at !== DONE.length) this.#done = -1;
    } else if (at < DONE.length && b === DONE[at]) this.#done = at + 1;
    else this.#done = -1;
  }
}
