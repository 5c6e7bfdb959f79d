/**
 * Generated text of a stream kept as the raw contents of JSON strings, escapes and all, in one
 * growing buffer (json_scan.ts copies them there as it checks an event); decoded only when the
 * text is needed: no usage reported, the client gone, or TRACE_CONTENT.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The text: an event's bytes count once it is {@link commit}ted, else {@link discard}ed. */
export class TextTally {
  // Small at first: most streams are short, and a small array costs less to make.
  #bytes = new Uint8Array(64);
  #length = 0;
  #committed = 0;

  /** Adds one byte of the event being scanned. */
  push(b: number): void {
    if (this.#length === this.#bytes.length) {
      const grown = new Uint8Array(this.#bytes.length * 2);
      grown.set(this.#bytes);
      this.#bytes = grown;
    }
    this.#bytes[this.#length++] = b;
  }

  /** Adds `chunk[from, to)` of the event being scanned. */
  pushRun(chunk: Uint8Array, from: number, to: number): void {
    const needed = this.#length + to - from;
    if (needed > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(needed, this.#bytes.length * 2));
      grown.set(this.#bytes.subarray(0, this.#length));
      this.#bytes = grown;
    }
    for (let i = from; i < to; i++) this.#bytes[this.#length++] = chunk[i];
  }

  /** Keeps the bytes the current event added; true when it added any. */
  commit(): boolean {
    const added = this.#length > this.#committed;
    this.#committed = this.#length;
    return added;
  }

  /** Drops the bytes the current event added. */
  discard(): void {
    this.#length = this.#committed;
  }

  /** Adds text read by other means (an event read in full); nothing may be uncommitted. */
  append(text: string): void {
    const escaped = encoder.encode(JSON.stringify(text).slice(1, -1));
    for (let i = 0; i < escaped.length; i++) this.push(escaped[i]);
    this.commit();
  }

  /** The committed text, decoded. */
  text(): string {
    const raw = decoder.decode(this.#bytes.subarray(0, this.#committed));
    try {
      return JSON.parse(`"${raw}"`);
    } catch {
      // Unreachable for bytes the scanner checked; the raw text still counts about right.
      return raw;
    }
  }
}
