/**
 * An upstream's event stream as the relay reads it: the body's chunks pass through the byte
 * scanner (sse_scan.ts) and go to the client as they came, whole events only (a cut-off event
 * waits for its end, so an error frame never lands inside one). The protocol's reader triages
 * each event from its scan: most are forwarded untouched, their text kept as raw bytes; the few
 * that carry usage, a stop reason, the end or an error, or that the scan is unsure of, are read in
 * full, and may be dropped or rewritten. One idle timer for all streams of an idle limit, not one
 * per stream or read.
 */
import { parseSseEvent } from "./sse.ts";
import { SseScanner } from "./sse_scan.ts";
import { TextTally } from "./text_tally.ts";
import { type StreamReader, Triage, type UpstreamError } from "./upstream.ts";
import type { StreamPieces } from "./relay.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Reads go into buffers kept for reuse: a default reader of a fetch body allocates 64 KiB for
// every chunk, however small, which made garbage collection the relay's largest cost. A chunk is
// copied out at its own size (the client may still be reading it when the buffer is reused).
const READ_BYTES = 16 * 1024;
const SPARE_BUFFERS = 64;
const spareBuffers: ArrayBuffer[] = [];
// The copies are cut from shared arenas never written twice, so a chunk costs no allocation of
// its own; small arenas, so a stream that holds one chunk (a slow client) holds little else.
const ARENA_BYTES = 8 * 1024;
let arena = new Uint8Array(ARENA_BYTES);
let arenaUsed = 0;

/** A copy of `view` that stays valid after the buffer it was read into is reused. */
function copyOut(view: Uint8Array): Uint8Array {
  const length = view.length;
  if (length > ARENA_BYTES / 4) return view.slice();
  if (arenaUsed + length > ARENA_BYTES) {
    arena = new Uint8Array(ARENA_BYTES);
    arenaUsed = 0;
  }
  const copy = arena.subarray(arenaUsed, arenaUsed + length);
  copy.set(view);
  arenaUsed += length;
  return copy;
}

/** Sweeps of the idle watch per idle limit. */
const SWEEPS = 8;

/** The pieces of an upstream's stream for the relay: each one or more whole events. */
export class UpstreamPieces implements StreamPieces {
  final = false;
  errorMessage: string | undefined;
  carriedText = false;
  readonly #body: ReadableStreamBYOBReader;
  readonly #reader: StreamReader;
  readonly #tally = new TextTally();
  readonly #scanner: SseScanner;
  readonly #out = new Output();
  readonly #idleMs: number;
  readonly #idleError: () => UpstreamError;
  /** Absolute offset of the next chunk's first byte. */
  #offset = 0;
  /** The current event's bytes in earlier chunks. */
  readonly #held: Uint8Array[] = [];
  /** A failure met after some whole events of a chunk; thrown once those are out. */
  #failure: unknown;
  #started = false;
  #sawData = false;
  #stopped = false;
  #reading = false;
  /** Reads started: the idle watch tells a read that waits from a new one by it. */
  #reads = 0;
  #watchedReads = -1;
  #quietSinceMs = 0;
  #watched = false;
  readonly #watch: IdleWatch;
  #timedOut = false;

  /** Reads `body` with `reader`; `idleError` is thrown when nothing came for `idleMs`. */
  constructor(
    body: ReadableStream<Uint8Array>,
    reader: StreamReader,
    idleMs: number,
    idleError: () => UpstreamError,
  ) {
    this.#body = body.getReader({ mode: "byob" });
    this.#reader = reader;
    this.#scanner = new SseScanner(reader.rules, this.#tally);
    this.#idleMs = idleMs;
    this.#idleError = idleError;
    this.#watch = IdleWatch.for(idleMs);
  }

  async next(): Promise<Uint8Array | null> {
    this.final = false;
    this.errorMessage = undefined;
    this.carriedText = false;
    this.#sawData = false;
    try {
      if (this.#failure !== undefined) throw this.#failure;
      while (true) {
        // The read is here rather than in a method of its own: one async layer less per chunk.
        this.#reading = true;
        this.#reads++;
        if (!this.#watched) {
          this.#watched = true;
          this.#watch.add(this);
        }
        let read: ReadableStreamReadResult<Uint8Array>;
        try {
          read = await this.#body.read(
            new Uint8Array(spareBuffers.pop() ?? new ArrayBuffer(READ_BYTES)),
          );
        } finally {
          this.#reading = false;
        }
        const view = read.value;
        const chunk = view && !read.done ? copyOut(view) : null;
        if (view && spareBuffers.length < SPARE_BUFFERS) {
          spareBuffers.push(view.buffer as ArrayBuffer);
        }
        if (chunk === null) {
          if (this.#timedOut) throw this.#idleError();
          // As in EventSource, an event cut off before its blank line is dropped.
          this.stop();
          return null;
        }
        this.#chunk(chunk);
        // Comments before the first event wait for it: until then the response has not begun.
        if (this.final || (this.#out.length > 0 && (this.#started || this.#sawData))) {
          this.#started ||= this.#sawData;
          return this.#out.take();
        }
      }
    } catch (error) {
      this.stop();
      throw error;
    }
  }

  text(): string {
    return this.#tally.text();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#watched) this.#watch.delete(this);
    this.#body.cancel().catch(() => {});
  }

  #chunk(chunk: Uint8Array): void {
    const base = this.#offset;
    this.#offset += chunk.length;
    let from = 0;
    while (from < chunk.length) {
      const end = this.#scanner.scan(chunk, from, base);
      if (end < 0) {
        this.#held.push(from === 0 ? chunk : chunk.subarray(from));
        return;
      }
      try {
        this.#event(chunk, from, end);
      } catch (error) {
        if (this.#out.length === 0) throw error;
        this.#failure = error;
        return;
      }
      this.#held.length = 0;
      from = end;
      if (this.final) return;
    }
  }

  /** One whole event, `chunk[start, end)` after the held bytes. */
  #event(chunk: Uint8Array, start: number, end: number): void {
    const scan = this.#scanner;
    const tally = this.#tally;
    if (scan.dataLines === 0) {
      tally.discard();
      this.#forward(chunk, start, end);
      return;
    }
    this.#sawData = true;
    const triage = this.#reader.triage(scan);
    if (triage === Triage.forward) {
      if (tally.commit()) this.carriedText = true;
      this.#forward(chunk, start, end);
      return;
    }
    if (triage === Triage.forwardNoText || triage === Triage.end) {
      tally.discard();
      this.#forward(chunk, start, end);
      this.final = triage === Triage.end;
      return;
    }
    const bytes = this.#eventBytes(chunk, start, end);
    if (triage === Triage.forwardWithoutNull) {
      const id = this.#reader.droppedNull;
      const cut = withoutMember(
        bytes,
        scan.json.nullStart[id] - scan.eventStart,
        scan.json.nullEnd[id] - scan.eventStart,
      );
      if (cut) {
        if (tally.commit()) this.carriedText = true;
        this.#out.add(cut, 0, cut.length);
        return;
      }
    }
    tally.discard();
    const step = this.#reader.step(parseSseEvent(decoder.decode(bytes))!);
    if (step.text) {
      tally.append(step.text);
      this.carriedText = true;
    }
    if (step.errorMessage !== undefined) this.errorMessage = step.errorMessage;
    if (step.frame === undefined) this.#out.add(bytes, 0, bytes.length);
    else if (step.frame !== null) {
      const frame = encoder.encode(step.frame);
      this.#out.add(frame, 0, frame.length);
    }
    if (step.final) this.final = true;
  }

  #forward(chunk: Uint8Array, start: number, end: number): void {
    for (const held of this.#held) this.#out.add(held, 0, held.length);
    this.#out.add(chunk, start, end);
  }

  #eventBytes(chunk: Uint8Array, start: number, end: number): Uint8Array {
    if (this.#held.length === 0) return chunk.subarray(start, end);
    const parts = [...this.#held, chunk.subarray(start, end)];
    const bytes = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
    let at = 0;
    for (const part of parts) {
      bytes.set(part, at);
      at += part.length;
    }
    return bytes;
  }

  /**
   * Called by the idle watch at each sweep; false once this stream needs no more watching (it
   * stopped, it is not reading, or it timed out). The watch runs only while a read waits: a
   * client that reads slowly is not the upstream idling.
   */
  sweep(nowMs: number): boolean {
    if (this.#stopped || !this.#reading) {
      this.#watched = false;
      return false;
    }
    if (this.#reads !== this.#watchedReads) {
      // A read the watch has not seen yet: it began before this sweep.
      this.#watchedReads = this.#reads;
      this.#quietSinceMs = nowMs;
      return true;
    }
    if (nowMs - this.#quietSinceMs < this.#idleMs) return true;
    this.#timedOut = true;
    this.#watched = false;
    this.#body.cancel().catch(() => {});
    return false;
  }
}

/**
 * One timer for every stream with the same idle limit, instead of a timer and a clock reading
 * per stream and read: it sweeps the streams whose read waits, {@link SWEEPS} times per limit,
 * and a read still waiting a full limit after the sweep that first saw it has timed out (so a
 * stream times out after the limit and at most 1/{@link SWEEPS} of it more).
 */
class IdleWatch {
  static readonly #byLimit = new Map<number, IdleWatch>();
  readonly #members = new Set<UpstreamPieces>();
  readonly #tickMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  private constructor(idleMs: number) {
    this.#tickMs = Math.max(1, Math.floor(idleMs / SWEEPS));
  }

  /** The watch of streams with this idle limit. */
  static for(idleMs: number): IdleWatch {
    let watch = IdleWatch.#byLimit.get(idleMs);
    if (!watch) IdleWatch.#byLimit.set(idleMs, watch = new IdleWatch(idleMs));
    return watch;
  }

  add(pieces: UpstreamPieces): void {
    this.#members.add(pieces);
    this.#timer ??= setInterval(this.#sweep, this.#tickMs);
  }

  delete(pieces: UpstreamPieces): void {
    this.#members.delete(pieces);
    if (this.#members.size === 0) this.#stop();
  }

  #sweep = (): void => {
    const now = performance.now();
    for (const pieces of this.#members) {
      if (!pieces.sweep(now)) this.#members.delete(pieces);
    }
    if (this.#members.size === 0) this.#stop();
  };

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** Bytes gathered for one piece: runs of the same chunk join, so a piece is often one chunk. */
class Output {
  length = 0;
  readonly #parts: Uint8Array[] = [];
  readonly #starts: number[] = [];
  readonly #ends: number[] = [];

  add(bytes: Uint8Array, start: number, end: number): void {
    if (end === start) return;
    this.length += end - start;
    const last = this.#parts.length - 1;
    if (last >= 0 && this.#parts[last] === bytes && this.#ends[last] === start) {
      this.#ends[last] = end;
      return;
    }
    this.#parts.push(bytes);
    this.#starts.push(start);
    this.#ends.push(end);
  }

  take(): Uint8Array {
    const parts = this.#parts;
    let bytes: Uint8Array;
    if (parts.length === 1) {
      const part = parts[0];
      const start = this.#starts[0];
      const end = this.#ends[0];
      bytes = start === 0 && end === part.length ? part : part.subarray(start, end);
    } else {
      bytes = new Uint8Array(this.length);
      let at = 0;
      for (let i = 0; i < parts.length; i++) {
        bytes.set(parts[i].subarray(this.#starts[i], this.#ends[i]), at);
        at += this.#ends[i] - this.#starts[i];
      }
    }
    parts.length = 0;
    this.#starts.length = 0;
    this.#ends.length = 0;
    this.length = 0;
    return bytes;
  }
}

const SPACE = 0x20, TAB = 0x09, COMMA = 0x2c, LBRACE = 0x7b, RBRACE = 0x7d;

/**
 * `bytes` without the object member at `[start, end)` and the comma that joins it to a
 * neighbour; undefined when what surrounds it on its line is not the plain JSON expected.
 */
export function withoutMember(
  bytes: Uint8Array,
  start: number,
  end: number,
): Uint8Array | undefined {
  let before = start - 1;
  while (before >= 0 && (bytes[before] === SPACE || bytes[before] === TAB)) before--;
  let cutFrom = start;
  let cutTo = end;
  if (bytes[before] === COMMA) cutFrom = before;
  else {
    if (bytes[before] !== LBRACE) return undefined;
    let after = end;
    while (after < bytes.length && (bytes[after] === SPACE || bytes[after] === TAB)) after++;
    if (bytes[after] === COMMA) {
      cutTo = after + 1;
      while (cutTo < bytes.length && (bytes[cutTo] === SPACE || bytes[cutTo] === TAB)) cutTo++;
    } else if (bytes[after] !== RBRACE) return undefined;
  }
  const out = new Uint8Array(bytes.length - (cutTo - cutFrom));
  out.set(bytes.subarray(0, cutFrom));
  out.set(bytes.subarray(cutTo), cutFrom);
  return out;
}
