/**
 * A byte-level BPE vocabulary: every token's bytes and its rank, with a lookup that takes any
 * span of a byte buffer and allocates nothing.
 *
 * The merge loop asks "is bytes[i, j) a token, and which?" once per candidate pair, so this is
 * the innermost operation of the tokenizer. A `Map<string, number>` would need a key string per
 * question; instead the token bytes sit in one pool and an open-addressing table of ranks is
 * probed with an FNV-1a hash computed over the span itself.
 */

const EMPTY = -1;

/** FNV-1a over `bytes[start, end)`, as a signed 32-bit integer. */
function hashSpan(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h = Math.imul(h ^ bytes[i], 0x01000193);
  }
  return h | 0;
}

/** Spreads FNV's weak low bits before they are masked into a table index. */
function slotOf(hash: number, mask: number): number {
  return (hash ^ (hash >>> 15)) & mask;
}

/** A token table for one encoding; build it once and share it. */
export class Vocabulary {
  /** One past the highest rank (ranks need not be dense). */
  readonly size: number;
  /** Number of tokens actually present. */
  readonly tokenCount: number;
  readonly #pool: Uint8Array;
  readonly #start: Uint32Array;
  readonly #present: Uint8Array;
  readonly #slots: Int32Array;
  readonly #slotHashes: Int32Array;
  readonly #mask: number;

  /**
   * `pool` holds every token's bytes in rank order; token `r` is `pool[start[r], start[r + 1])`,
   * and `present[r]` is 1 where rank `r` exists.
   */
  constructor(pool: Uint8Array, start: Uint32Array, present: Uint8Array) {
    this.size = present.length;
    this.#pool = pool;
    this.#start = start;
    this.#present = present;
    let count = 0;
    for (let r = 0; r < present.length; r++) count += present[r];
    this.tokenCount = count;
    // A load factor under 0.5 keeps linear probes short.
    let capacity = 1;
    while (capacity < count * 2) capacity <<= 1;
    this.#slots = new Int32Array(capacity).fill(EMPTY);
    this.#slotHashes = new Int32Array(capacity);
    this.#mask = capacity - 1;
    for (let r = 0; r < present.length; r++) {
      if (present[r] === 0) continue;
      const s = start[r];
      const e = start[r + 1];
      // Keep the lowest rank if a byte string were listed twice.
      if (this.rank(pool, s, e) !== EMPTY) continue;
      const h = hashSpan(pool, s, e);
      let i = slotOf(h, this.#mask);
      while (this.#slots[i] !== EMPTY) i = (i + 1) & this.#mask;
      this.#slots[i] = r;
      this.#slotHashes[i] = h;
    }
  }

  /** Rank of the token whose bytes are `bytes[start, end)`, or -1 if there is none. */
  rank(bytes: Uint8Array, start: number, end: number): number {
    const len = end - start;
    const h = hashSpan(bytes, start, end);
    const slots = this.#slots;
    const mask = this.#mask;
    const pool = this.#pool;
    const starts = this.#start;
    let i = slotOf(h, mask);
    for (;;) {
      const r = slots[i];
      if (r === EMPTY) return EMPTY;
      if (this.#slotHashes[i] === h) {
        const s = starts[r];
        if (starts[r + 1] - s === len) {
          let k = 0;
          while (k < len && pool[s + k] === bytes[start + k]) k++;
          if (k === len) return r;
        }
      }
      i = (i + 1) & mask;
    }
  }

  /** The bytes of token `rank` (a view into the shared pool), or undefined if no such rank. */
  bytesOf(rank: number): Uint8Array | undefined {
    if (rank < 0 || rank >= this.size || this.#present[rank] === 0) return undefined;
    return this.#pool.subarray(this.#start[rank], this.#start[rank + 1]);
  }

  /** Builds a vocabulary from token byte strings indexed by rank (holes allowed). */
  static fromTokens(tokens: readonly (Uint8Array | undefined)[]): Vocabulary {
    let total = 0;
    for (const t of tokens) total += t?.length ?? 0;
    const pool = new Uint8Array(total);
    const start = new Uint32Array(tokens.length + 1);
    const present = new Uint8Array(tokens.length);
    let at = 0;
    for (let r = 0; r < tokens.length; r++) {
      start[r] = at;
      const t = tokens[r];
      if (t === undefined) continue;
      pool.set(t, at);
      at += t.length;
      present[r] = 1;
    }
    start[tokens.length] = at;
    return new Vocabulary(pool, start, present);
  }

  /**
   * Parses js-tiktoken's rank format: lines of `<label> <first rank> <base64 token>…`, where the
   * tokens on a line have consecutive ranks from the first one.
   */
  static fromTiktokenRanks(bpeRanks: string): Vocabulary {
    const runs: { first: number; tokens: string[] }[] = [];
    let size = 0;
    for (const line of bpeRanks.split("\n")) {
      if (line === "") continue;
      const fields = line.split(" ");
      const first = Number.parseInt(fields[1], 10);
      if (!Number.isInteger(first) || first < 0) {
        throw new Error(`bad rank line starting ${JSON.stringify(line.slice(0, 40))}`);
      }
      const tokens = fields.slice(2);
      runs.push({ first, tokens });
      size = Math.max(size, first + tokens.length);
    }
    const byRank: (Uint8Array | undefined)[] = new Array(size);
    for (const { first, tokens } of runs) {
      for (let i = 0; i < tokens.length; i++) byRank[first + i] = decodeBase64(tokens[i]);
    }
    return Vocabulary.fromTokens(byRank);
  }
}

const BASE64_VALUES = (() => {
  const values = new Int8Array(128).fill(-1);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (let i = 0; i < alphabet.length; i++) values[alphabet.charCodeAt(i)] = i;
  return values;
})();

/** Decodes standard padded base64; rank files are trusted package data, so errors throw. */
function decodeBase64(text: string): Uint8Array {
  let len = text.length;
  while (len > 0 && text.charCodeAt(len - 1) === 0x3d) len--;
  const out = new Uint8Array((len * 3) >> 2);
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? BASE64_VALUES[c] : -1;
    if (v < 0) throw new Error(`bad base64 token ${JSON.stringify(text)}`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}
