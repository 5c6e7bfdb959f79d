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
   * tokens on a line have consecutive ranks from the first one. One pass decodes every token
   * straight into the byte pool — no per-token strings or arrays — because this runs on the
   * first request that needs the encoding (~200 ms for o200k_base the straightforward way).
   */
  static fromTiktokenRanks(bpeRanks: string): Vocabulary {
    const length = bpeRanks.length;
    // Base64 decodes to at most 3/4 of its length; the pool is trimmed afterwards.
    let pool = new Uint8Array((length * 3) >> 2);
    let at = 0;
    const tokenAt: number[] = [];
    const tokenRank: number[] = [];
    let pos = 0;
    while (pos < length) {
      const lineEnd = endOf(bpeRanks, pos, 0x0a);
      const labelEnd = endOf(bpeRanks, pos, 0x20);
      const firstEnd = endOf(bpeRanks, labelEnd + 1, 0x20);
      if (lineEnd === pos) {
        pos++;
        continue;
      }
      let rank = Number(bpeRanks.slice(labelEnd + 1, Math.min(firstEnd, lineEnd)));
      if (labelEnd >= lineEnd || !Number.isInteger(rank) || rank < 0) {
        throw new Error(`bad rank line starting ${JSON.stringify(bpeRanks.slice(pos, pos + 40))}`);
      }
      for (let i = firstEnd + 1; i < lineEnd; rank++) {
        const end = Math.min(endOf(bpeRanks, i, 0x20), lineEnd);
        tokenAt.push(at);
        tokenRank.push(rank);
        at = decodeBase64Into(bpeRanks, i, end, pool, at);
        i = end + 1;
      }
      pos = lineEnd + 1;
    }
    pool = pool.slice(0, at);
    let size = 0;
    for (const r of tokenRank) size = Math.max(size, r + 1);
    // Lay the tokens out in rank order, as the constructor expects.
    const start = new Uint32Array(size + 1);
    const present = new Uint8Array(size);
    const lengths = new Uint32Array(size);
    for (let k = 0; k < tokenRank.length; k++) {
      const end = k + 1 < tokenAt.length ? tokenAt[k + 1] : at;
      lengths[tokenRank[k]] = end - tokenAt[k];
      present[tokenRank[k]] = 1;
    }
    for (let r = 0; r < size; r++) start[r + 1] = start[r] + lengths[r];
    const ordered = new Uint8Array(at);
    for (let k = 0; k < tokenRank.length; k++) {
      const r = tokenRank[k];
      ordered.set(pool.subarray(tokenAt[k], tokenAt[k] + lengths[r]), start[r]);
    }
    return new Vocabulary(ordered, start, present);
  }
}

/** Index of the first `code` at or after `from` in `text`, or `text.length`. */
function endOf(text: string, from: number, code: number): number {
  const i = text.indexOf(String.fromCharCode(code), from);
  return i < 0 ? text.length : i;
}

const BASE64_VALUES = (() => {
  const values = new Int8Array(128).fill(-1);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (let i = 0; i < alphabet.length; i++) values[alphabet.charCodeAt(i)] = i;
  return values;
})();

/**
 * Decodes standard padded base64 `text[start, end)` into `out` from `at`; returns the new end.
 * Rank files are trusted package data, so malformed input throws.
 */
function decodeBase64Into(
  text: string,
  start: number,
  end: number,
  out: Uint8Array,
  at: number,
): number {
  while (end > start && text.charCodeAt(end - 1) === 0x3d) end--;
  let acc = 0;
  let bits = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? BASE64_VALUES[c] : -1;
    if (v < 0) throw new Error(`bad base64 token ${JSON.stringify(text.slice(start, end))}`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (acc >> bits) & 0xff;
    }
  }
  return at;
}
