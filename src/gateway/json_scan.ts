/**
 * Checking one event's data as JSON a byte at a time, with no copy and no allocation per event:
 * is it one well-formed object? While checking, it notes the keys a protocol asked about
 * ({@link ScanRules}) at any depth, null and non-null values apart, keeps a few top-level string
 * values (`type`, `model`, `service_tier`) and the byte range of a top-level `"key": null`
 * member, and copies the raw (still escaped) contents of the strings that are generated text
 * into a {@link TextTally}. Anything it cannot be sure of (an escaped key, nesting deeper than 32)
 * makes {@link JsonScan.plainObject} false, as bad JSON does, and the event is read in full.
 */
import type { TextTally } from "./text_tally.ts";

/** What a protocol wants a scan to notice; key ids are indexes into `keys` plus one. */
export interface ScanRules {
  /** Keys the scan reports, at most 30. */
  readonly keys: readonly string[];
  /** Ids (as bits, `1 << id`) whose top-level string value is kept. */
  readonly keepValues: number;
  /** Ids whose top-level `null` member's byte range is kept. */
  readonly keepNullRanges: number;
  /** Ids whose string values may be generated text; {@link isText} decides by path. */
  readonly textKeys: number;
  /** Whether the string at `depth`, `keyAt[d]` being the key at each depth d ≤ depth, is text. */
  isText(depth: number, keyAt: Uint8Array): boolean;
}

/** Each key's id for {@link ScanRules.keys}: its position plus one. */
export function keyIds<K extends string>(keys: readonly K[]): Readonly<Record<K, number>> {
  return Object.fromEntries(keys.map((key, i) => [key, i + 1])) as Record<K, number>;
}

/** A bit mask of key ids, `1 << id` each. */
export function keyBits(...ids: number[]): number {
  return ids.reduce((bits, id) => bits | (1 << id), 0);
}

const LF = 0x0a, CR = 0x0d, SPACE = 0x20, TAB = 0x09, QUOTE = 0x22, BACKSLASH = 0x5c;
const COLON = 0x3a, COMMA = 0x2c, LBRACE = 0x7b, RBRACE = 0x7d, LBRACKET = 0x5b, RBRACKET = 0x5d;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const TRUE = encoder.encode("true"), FALSE = encoder.encode("false"), NULL = encoder.encode("null");

// States.
const J_VALUE = 0, J_FIRST_VALUE = 1, J_AFTER = 2, J_FIRST_KEY = 3, J_KEY = 4, J_COLON = 5;
const J_STRING = 6, J_ESCAPE = 7, J_HEX = 8, J_MINUS = 9, J_ZERO = 10, J_INT = 11, J_DOT = 12;
const J_FRACTION = 13, J_E = 14, J_E_SIGN = 15, J_EXPONENT = 16, J_LITERAL = 17, J_END = 18;
const J_BAD = 19;
const OBJECT = 1, ARRAY = 2;
const MAX_DEPTH = 32, MAX_KEY = 32, MAX_VALUE = 64;
// A string being read: not kept, a key, generated text, a kept top-level value.
const KEEP_NONE = 0, KEEP_KEY = 1, KEEP_TEXT = 2, KEEP_VALUE = 3;

/** JSON whitespace. */
export const isSpace = (b: number) =>
  b <= SPACE && (b === SPACE || b === LF || b === TAB || b === CR);
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;
const isHex = (b: number) => isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
const isEscapable = (b: number) =>
  b === QUOTE || b === BACKSLASH || b === 0x2f || b === 0x62 || b === 0x66 || b === 0x6e ||
  b === 0x72 || b === 0x74;

/** The JSON check of one event's data at a time; {@link reset} it for each event. */
export class JsonScan {
  /** Ids met with a non-null value, at any depth. */
  seen = 0;
  /** Ids met with a `null` value, at any depth. */
  nulls = 0;
  /** Ids met as members of the top-level object. */
  top = 0;
  /** Ids of top-level members whose value is an array with at least one element. */
  filledArrays = 0;
  /** Ids whose top-level null member's range is in {@link nullStart} / {@link nullEnd}. */
  nullRanges = 0;
  /** Offsets of each kept null member, its key's quote to the end of `null`; on one data line. */
  readonly nullStart: number[];
  readonly nullEnd: number[];

  readonly #rules: ScanRules;
  readonly #compiled: CompiledRules;
  readonly #tally: TextTally;
  #json = J_VALUE;
  #object = false;
  #line = 0;
  #depth = 0;
  readonly #kinds = new Uint8Array(MAX_DEPTH + 1);
  readonly #keyAt = new Uint8Array(MAX_DEPTH + 1);
  #keep = KEEP_NONE;
  readonly #key = new Uint8Array(MAX_KEY);
  #keyLength = 0;
  #keyStart = 0;
  #keyLine = 0;
  #valueId = 0;
  /** The kept values, {@link MAX_VALUE} bytes for each id kept. */
  readonly #values: Uint8Array;
  /** Length of each kept value; -1 not met as a top-level string, -2 unusable (escaped, long). */
  readonly #valueLengths: Int32Array;
  #hex = 0;
  #literal = NULL;
  #literalAt = 0;
  #nullId = 0;

  constructor(rules: ScanRules, tally: TextTally) {
    this.#rules = rules;
    this.#compiled = compile(rules);
    this.#tally = tally;
    const ids = rules.keys.length + 1;
    this.#values = new Uint8Array(MAX_VALUE * this.#compiled.kept.length);
    this.#valueLengths = new Int32Array(ids).fill(-1);
    this.nullStart = new Array(ids).fill(0);
    this.nullEnd = new Array(ids).fill(0);
  }

  /** Starts on the next event's data. */
  reset(): void {
    this.seen = 0;
    this.nulls = 0;
    this.top = 0;
    this.filledArrays = 0;
    this.nullRanges = 0;
    this.#json = J_VALUE;
    this.#object = false;
    this.#line = 0;
    this.#depth = 0;
    for (const id of this.#compiled.kept) this.#valueLengths[id] = -1;
  }

  /** True when the data so far is one well-formed JSON object the scan fully understood. */
  get plainObject(): boolean {
    return this.#json === J_END && this.#object;
  }

  /** The LF that joins two data lines. */
  nextLine(): void {
    this.#line++;
    this.feed(LF, 0);
  }

  /**
   * Reads one line of data from `chunk[from]` up to its end (LF or CR: the index returned) or the
   * chunk's; `base` is the absolute offset of `chunk[0]`. The body of a string, most of the bytes,
   * is read in a tight loop and kept a run at a time.
   */
  line(chunk: Uint8Array, from: number, base: number): number {
    const length = chunk.length;
    let i = from;
    while (i < length) {
      let b = chunk[i];
      const state = this.#json;
      if (state === J_STRING) {
        const run = i;
        while (b !== QUOTE && b !== BACKSLASH && b >= SPACE && ++i < length) b = chunk[i];
        if (this.#keep !== KEEP_NONE) this.#keepRun(chunk, run, i);
        if (i === length) return i;
      } else if (state === J_INT || state === J_FRACTION || state === J_EXPONENT) {
        // More digits change nothing: skipped in a tight loop too.
        while (isDigit(b) && ++i < length) b = chunk[i];
        if (i === length) return i;
      }
      // A line that ends inside a string leaves the data invalid: the LF joining the next line
      // is no string byte, as JSON.parse would say.
      if (b === LF || b === CR) return i;
      this.feed(b, base + i);
      i++;
    }
    return i;
  }

  /** -1 when `id` was not a top-level string, -2 when unusable (escaped, long), else its length. */
  valueLength(id: number): number {
    return this.#valueLengths[id];
  }

  /** True when the top-level string under key `id` is exactly `value`. */
  valueIs(id: number, value: Uint8Array): boolean {
    return this.#valueLengths[id] === value.length &&
      same(this.#values, MAX_VALUE * this.#compiled.slots[id], value);
  }

  /** The top-level string under key `id`, decoded; only when {@link valueLength} is not negative. */
  valueText(id: number): string {
    const at = MAX_VALUE * this.#compiled.slots[id];
    return decoder.decode(this.#values.subarray(at, at + this.#valueLengths[id]));
  }

  /** True when the top-level string under key `id` is one of `values`. */
  valueIn(id: number, values: readonly Uint8Array[]): boolean {
    for (const value of values) if (this.valueIs(id, value)) return true;
    return false;
  }

  #keepRun(chunk: Uint8Array, from: number, to: number): void {
    const keep = this.#keep;
    if (keep === KEEP_TEXT) this.#tally.pushRun(chunk, from, to);
    else if (keep === KEEP_KEY) {
      const key = this.#key;
      let n = this.#keyLength;
      for (let i = from; i < to && n < MAX_KEY; i++) key[n++] = chunk[i];
      this.#keyLength += to - from;
    } else {
      const id = this.#valueId;
      const n = this.#valueLengths[id];
      if (n < 0) return;
      if (n + to - from > MAX_VALUE) {
        this.#valueLengths[id] = -2;
        return;
      }
      const at = MAX_VALUE * this.#compiled.slots[id] + n;
      for (let i = from; i < to; i++) this.#values[at + i - from] = chunk[i];
      this.#valueLengths[id] = n + to - from;
    }
  }

  #keepByte(b: number): void {
    const keep = this.#keep;
    if (keep === KEEP_TEXT) this.#tally.push(b);
    else if (keep === KEEP_KEY) {
      if (this.#keyLength < MAX_KEY) this.#key[this.#keyLength] = b;
      this.#keyLength++;
    } else {
      const id = this.#valueId;
      const n = this.#valueLengths[id];
      if (n >= 0 && n < MAX_VALUE) {
        this.#values[MAX_VALUE * this.#compiled.slots[id] + n] = b;
        this.#valueLengths[id] = n + 1;
      } else this.#valueLengths[id] = -2;
    }
  }

  /** One byte of JSON (not the body of a string: see {@link string}); `at` is its offset. */
  feed(b: number, at: number): void {
    switch (this.#json) {
      case J_VALUE:
        if (!isSpace(b)) this.#startValue(b);
        return;
      case J_FIRST_VALUE:
        if (isSpace(b)) return;
        if (b === RBRACKET) this.#close();
        else this.#startValue(b);
        return;
      case J_AFTER: {
        if (isSpace(b)) return;
        const kind = this.#kinds[this.#depth];
        if (b === COMMA) this.#json = kind === OBJECT ? J_KEY : J_VALUE;
        else if (b === (kind === OBJECT ? RBRACE : RBRACKET)) this.#close();
        else this.#json = J_BAD;
        return;
      }
      case J_FIRST_KEY:
      case J_KEY:
        if (isSpace(b)) return;
        if (b === QUOTE) {
          this.#json = J_STRING;
          this.#keep = KEEP_KEY;
          this.#keyLength = 0;
          this.#keyStart = at;
          this.#keyLine = this.#line;
        } else if (b === RBRACE && this.#json === J_FIRST_KEY) this.#close();
        else this.#json = J_BAD;
        return;
      case J_COLON:
        if (b === COLON) this.#json = J_VALUE;
        else if (!isSpace(b)) this.#json = J_BAD;
        return;
      case J_STRING:
        if (b === QUOTE) this.#endString();
        else if (b === BACKSLASH) {
          // An escaped key or kept value could spell anything: such an event is read in full.
          if (this.#keep === KEEP_KEY) this.#json = J_BAD;
          else {
            if (this.#keep === KEEP_VALUE) this.#valueLengths[this.#valueId] = -2;
            else if (this.#keep === KEEP_TEXT) this.#tally.push(b);
            this.#json = J_ESCAPE;
          }
        } else if (b < SPACE) this.#json = J_BAD;
        else if (this.#keep !== KEEP_NONE) this.#keepByte(b);
        return;
      case J_ESCAPE:
        if (b === 0x75) {
          this.#hex = 0;
          this.#json = J_HEX;
        } else if (isEscapable(b)) this.#json = J_STRING;
        else {
          this.#json = J_BAD;
          return;
        }
        if (this.#keep === KEEP_TEXT) this.#tally.push(b);
        return;
      case J_HEX:
        if (!isHex(b)) {
          this.#json = J_BAD;
          return;
        }
        if (this.#keep === KEEP_TEXT) this.#tally.push(b);
        if (++this.#hex === 4) this.#json = J_STRING;
        return;
      case J_MINUS:
        this.#json = b === 0x30 ? J_ZERO : isDigit(b) ? J_INT : J_BAD;
        return;
      case J_ZERO:
      case J_INT:
      case J_FRACTION:
      case J_EXPONENT:
        if (isDigit(b) && this.#json !== J_ZERO) return;
        if (b === 0x2e && this.#json <= J_INT) this.#json = J_DOT;
        else if ((b === 0x65 || b === 0x45) && this.#json !== J_EXPONENT) this.#json = J_E;
        else {
          // The number ended; the byte belongs to what follows it.
          this.#endValue();
          this.feed(b, at);
        }
        return;
      case J_DOT:
        this.#json = isDigit(b) ? J_FRACTION : J_BAD;
        return;
      case J_E:
        this.#json = b === 0x2b || b === 0x2d ? J_E_SIGN : isDigit(b) ? J_EXPONENT : J_BAD;
        return;
      case J_E_SIGN:
        this.#json = isDigit(b) ? J_EXPONENT : J_BAD;
        return;
      case J_LITERAL:
        if (b !== this.#literal[this.#literalAt]) {
          this.#json = J_BAD;
          return;
        }
        if (++this.#literalAt < this.#literal.length) return;
        if (this.#nullId !== 0 && this.#keyLine === this.#line) {
          this.nullRanges |= 1 << this.#nullId;
          this.nullStart[this.#nullId] = this.#keyStart;
          this.nullEnd[this.#nullId] = at + 1;
        }
        this.#endValue();
        return;
      case J_END:
        if (!isSpace(b)) this.#json = J_BAD;
        return;
    }
  }

  #startValue(b: number): void {
    const depth = this.#depth;
    const id = depth > 0 && this.#kinds[depth] === OBJECT ? this.#keyAt[depth] : 0;
    if (depth === 0) this.#object = b === LBRACE;
    else if (depth === 2 && this.#kinds[2] === ARRAY && this.#keyAt[1] !== 0) {
      this.filledArrays |= 1 << this.#keyAt[1];
    }
    const bit = 1 << id;
    if (id !== 0) {
      if (b === 0x6e) this.nulls |= bit;
      else this.seen |= bit;
      if (depth === 1) this.top |= bit;
    }
    this.#nullId = 0;
    switch (b) {
      case LBRACE:
      case LBRACKET:
        if (depth === MAX_DEPTH) {
          this.#json = J_BAD;
          return;
        }
        this.#depth = depth + 1;
        this.#kinds[depth + 1] = b === LBRACE ? OBJECT : ARRAY;
        this.#keyAt[depth + 1] = 0;
        this.#json = b === LBRACE ? J_FIRST_KEY : J_FIRST_VALUE;
        return;
      case QUOTE:
        this.#json = J_STRING;
        this.#keep = KEEP_NONE;
        if (id === 0) return;
        if ((this.#rules.textKeys & bit) !== 0 && this.#rules.isText(depth, this.#keyAt)) {
          this.#keep = KEEP_TEXT;
        } else if (depth === 1 && (this.#rules.keepValues & bit) !== 0) {
          this.#keep = KEEP_VALUE;
          this.#valueId = id;
          this.#valueLengths[id] = 0;
        }
        return;
      case 0x2d:
        this.#json = J_MINUS;
        return;
      case 0x74:
      case 0x66:
      case 0x6e:
        this.#literal = b === 0x74 ? TRUE : b === 0x66 ? FALSE : NULL;
        this.#literalAt = 1;
        this.#json = J_LITERAL;
        if (b === 0x6e && depth === 1 && (this.#rules.keepNullRanges & bit) !== 0) {
          this.#nullId = id;
        }
        return;
      default:
        this.#json = b === 0x30 ? J_ZERO : isDigit(b) ? J_INT : J_BAD;
    }
  }

  #endString(): void {
    if (this.#keep !== KEEP_KEY) {
      this.#keep = KEEP_NONE;
      this.#endValue();
      return;
    }
    this.#keep = KEEP_NONE;
    this.#keyAt[this.#depth] = this.#keyId();
    this.#json = J_COLON;
  }

  #keyId(): number {
    const n = this.#keyLength;
    if (n === 0 || n > MAX_KEY) return 0;
    const { keys, first, next } = this.#compiled;
    const key = this.#key;
    for (let id = first[n * 256 + key[0]]; id !== 0; id = next[id]) {
      const candidate = keys[id - 1];
      let i = 1;
      while (i < n && candidate[i] === key[i]) i++;
      if (i === n) return id;
    }
    return 0;
  }

  #close(): void {
    this.#depth--;
    this.#endValue();
  }

  #endValue(): void {
    this.#json = this.#depth === 0 ? J_END : J_AFTER;
  }
}

/** True when `buffer` holds `value` at `at`. */
export function same(buffer: Uint8Array, at: number, value: Uint8Array): boolean {
  for (let i = 0; i < value.length; i++) if (buffer[at + i] !== value[i]) return false;
  return true;
}

/** Rules made ready for scanning, once per rules object. */
interface CompiledRules {
  readonly keys: readonly Uint8Array[];
  /** Candidate ids by length and first byte (`length * 256 + byte`), chained through `next`. */
  readonly first: Uint8Array;
  readonly next: Uint8Array;
  /** The ids whose values are kept, and each id's slot among them. */
  readonly kept: readonly number[];
  readonly slots: Int8Array;
}

const compiledRules = new WeakMap<ScanRules, CompiledRules>();

function compile(rules: ScanRules): CompiledRules {
  let compiled = compiledRules.get(rules);
  if (compiled) return compiled;
  if (rules.keys.length > 30) throw new Error("a scan looks for at most 30 keys");
  const keys = rules.keys.map((key) => encoder.encode(key));
  const first = new Uint8Array((MAX_KEY + 1) * 256);
  const next = new Uint8Array(keys.length + 1);
  keys.forEach((key, i) => {
    if (key.length === 0 || key.length > MAX_KEY) return;
    const bucket = key.length * 256 + key[0];
    next[i + 1] = first[bucket];
    first[bucket] = i + 1;
  });
  const ids = keys.map((_, i) => i + 1);
  const kept = ids.filter((id) => (rules.keepValues & (1 << id)) !== 0);
  const slots = new Int8Array(ids.length + 1).fill(-1);
  kept.forEach((id, slot) => slots[id] = slot);
  compiled = { keys, first, next, kept, slots };
  compiledRules.set(rules, compiled);
  return compiled;
}
