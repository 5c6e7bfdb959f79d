/**
 * The byte-pair merge loop: tiktoken's result in O(n log n) worst case and near-linear time in
 * practice, where tiktoken (and js-tiktoken, and the WASM build) take O(n²) in the length of one
 * pre-token.
 *
 * tiktoken's rule: start from single bytes and repeatedly merge the adjacent pair whose
 * concatenation has the lowest rank, the leftmost such pair on ties, until no adjacent pair is
 * a token. tiktoken rescans every pair after each merge, so 8,000 repeated letters take seconds
 * and 100 KB takes minutes: one request could stall the server.
 *
 * Here the parts are a linked list over byte offsets and each candidate pair is queued under its
 * rank; candidates of one rank leave in offset order, so the pop order is tiktoken's
 * (rank, offset) order. A merge changes at most three pairs (the absorbed part's, and those of
 * the merged part and its left neighbour).
 *
 * The queue is a FIFO per rank (a doubly linked list through the offsets, so a changed pair is
 * unlinked in O(1)) plus a small heap of the ranks that have one. Pushes nearly always arrive in
 * increasing offset order — the initial pairs, and each left-to-right sweep of equal-rank merges —
 * so they append in O(1). A push that would break its FIFO's order goes to an overflow heap keyed
 * by (rank, offset) instead, where a changed pair is left in place and skipped when popped (a pair
 * only ever grows and ranks are unique per byte string, so an entry is current exactly when its
 * rank still equals the pair's rank). The next candidate is the smaller of the two heads. Worst
 * case O(n log n); a megabyte of one letter takes ~0.1 s. (A single binary heap of all candidates
 * was the first version: correct, but a megabyte of one letter put a million keys in it and its
 * cache misses cost ~250 ms.)
 *
 * Pieces of up to SCAN_MAX_BYTES bytes (nearly all pieces in real text) find the best pair by a
 * linear scan instead, which is cheaper than any queue at that size.
 *
 * Vocabulary lookups dominate both loops, so two shortcuts avoid hashing byte spans: the rank of
 * every two-byte string (the initial pairs) is a 64K-entry table, and the rank of a joined pair
 * is remembered by the ranks of its two halves in a small direct-mapped cache (the result only
 * depends on which two tokens are joined, and text repeats its pairs).
 */

import type { Vocabulary } from "./vocabulary.ts";

/** Pieces of at most this many bytes merge by linear scan. */
const SCAN_MAX_BYTES = 48;
/** Working arrays for pieces up to this many bytes are kept; larger pieces get their own. */
const KEPT_CAPACITY = 1 << 16;
const NO_PAIR = -1;
const ABSORBED = -2;
const NONE = -1;
const OUT = -2;
/** log2 of the join cache's entries; 2¹⁴ entries of four int32s is 256 KiB, L2-sized. */
const JOIN_CACHE_BITS = 14;
/** Overflow keys are rank · 2³² + offset: exact in a double while ranks stay below 2²¹. */
const KEY_SCALE = 4294967296;
/** Largest vocabulary the key packing allows. */
export const MAX_VOCABULARY_SIZE = 1 << 21;

/** Per-offset working memory for one piece. */
class Parts {
  /** Offset of the part after the part starting at each offset (n after the last part). */
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** Rank of a part joined with its successor, NO_PAIR, or ABSORBED once merged away. */
  readonly pairRank: Int32Array;
  /** Rank of the part starting at each offset. */
  readonly partRank: Int32Array;
  /** Neighbours of a part's pair in its rank's FIFO; `fifoPrev` is OUT when not in a FIFO. */
  readonly fifoNext: Int32Array;
  readonly fifoPrev: Int32Array;
  /** Overflow heap of rank · 2³² + offset keys (may hold stale entries). */
  overflow: Float64Array;

  constructor(readonly capacity: number) {
    this.next = new Int32Array(capacity);
    this.prev = new Int32Array(capacity);
    this.pairRank = new Int32Array(capacity);
    this.partRank = new Int32Array(capacity);
    this.fifoNext = new Int32Array(capacity);
    this.fifoPrev = new Int32Array(capacity);
    this.overflow = new Float64Array(Math.min(capacity, 1024));
  }
}

/** Merges the bytes of one piece into tokens, reusing its working memory across calls. */
export class PairMerger {
  readonly #vocab: Vocabulary;
  /** First and last offset in each rank's FIFO, NONE when empty (between calls: all). */
  readonly #fifoHead: Int32Array;
  readonly #fifoTail: Int32Array;
  /** Min-heap of ranks whose FIFO is or was recently non-empty; each rank at most once. */
  readonly #rankHeap: Int32Array;
  readonly #inRankHeap: Uint8Array;
  /** Rank of each single byte, and of each two-byte string (index b0 · 256 + b1), or NO_PAIR. */
  readonly #byteRank = new Int32Array(256);
  readonly #bytePairRank = new Int32Array(65536);
  /** Direct-mapped cache of joins: left rank, right rank, joined rank (or NO_PAIR), unused. */
  readonly #joins = new Int32Array(4 << JOIN_CACHE_BITS).fill(NONE);
  #kept = new Parts(256);
  #parts = this.#kept;

  /** A merger for `vocabulary`, which must have fewer than MAX_VOCABULARY_SIZE ranks. */
  constructor(vocabulary: Vocabulary) {
    if (vocabulary.size > MAX_VOCABULARY_SIZE) {
      throw new Error(`vocabularies above ${MAX_VOCABULARY_SIZE} ranks are not supported`);
    }
    this.#vocab = vocabulary;
    this.#fifoHead = new Int32Array(vocabulary.size).fill(NONE);
    this.#fifoTail = new Int32Array(vocabulary.size);
    this.#rankHeap = new Int32Array(vocabulary.size);
    this.#inRankHeap = new Uint8Array(vocabulary.size);
    const pair = new Uint8Array(2);
    for (let b = 0; b < 256; b++) {
      pair[0] = b;
      this.#byteRank[b] = vocabulary.rank(pair, 0, 1);
      for (let c = 0; c < 256; c++) {
        pair[1] = c;
        this.#bytePairRank[(b << 8) | c] = vocabulary.rank(pair, 0, 2);
      }
    }
  }

  /** Merges `bytes[0, n)` (n ≥ 2) as tiktoken would and returns the number of tokens. */
  count(bytes: Uint8Array, n: number): number {
    const count = this.#run(bytes, n);
    this.#parts = this.#kept;
    return count;
  }

  /** Merges `bytes[0, n)` (n ≥ 2) as tiktoken would and appends the token ranks to `out`. */
  encodeInto(bytes: Uint8Array, n: number, out: number[]): void {
    this.#run(bytes, n);
    const { next, partRank } = this.#parts;
    for (let i = 0; i < n; i = next[i]) out.push(partRank[i]);
    this.#parts = this.#kept;
  }

  /** Runs the merge loop; the parts are left in `this.#parts` for `encodeInto` to read. */
  #run(bytes: Uint8Array, n: number): number {
    let parts = this.#kept;
    if (n > parts.capacity) {
      parts = new Parts(Math.max(n, parts.capacity * 2));
      if (parts.capacity <= KEPT_CAPACITY) this.#kept = parts;
    }
    const { next, pairRank, partRank } = parts;
    const byteRank = this.#byteRank;
    const bytePairRank = this.#bytePairRank;
    for (let i = 0; i < n; i++) {
      next[i] = i + 1;
      partRank[i] = byteRank[bytes[i]];
    }
    for (let i = 0; i < n - 1; i++) pairRank[i] = bytePairRank[(bytes[i] << 8) | bytes[i + 1]];
    pairRank[n - 1] = NO_PAIR;
    this.#parts = parts;
    return n <= SCAN_MAX_BYTES ? this.#byScan(bytes, parts, n) : this.#byQueue(bytes, parts, n);
  }

  /**
   * Rank of the token `bytes[left, end)`: the part at `left` (rank `leftRank`) joined with the
   * part after it (rank `rightRank`), or NO_PAIR if that is not a token.
   */
  #join(
    bytes: Uint8Array,
    left: number,
    end: number,
    leftRank: number,
    rightRank: number,
  ): number {
    const joins = this.#joins;
    const slot = (Math.imul(leftRank ^ Math.imul(rightRank, 0x5bd1e995), 0x9e3779b1) >>>
      (32 - JOIN_CACHE_BITS)) << 2;
    if (joins[slot] === leftRank && joins[slot + 1] === rightRank) return joins[slot + 2];
    const rank = this.#vocab.rank(bytes, left, end);
    joins[slot] = leftRank;
    joins[slot + 1] = rightRank;
    joins[slot + 2] = rank;
    return rank;
  }

  #byScan(bytes: Uint8Array, parts: Parts, n: number): number {
    const { next, pairRank, partRank } = parts;
    let count = n;
    for (;;) {
      let best = -1;
      let bestRank = MAX_VOCABULARY_SIZE;
      let bestPrev = -1;
      let prev = -1;
      for (let i = 0; i < n; i = next[i]) {
        const r = pairRank[i];
        if (r >= 0 && r < bestRank) {
          bestRank = r;
          best = i;
          bestPrev = prev;
        }
        prev = i;
      }
      if (best < 0) return count;
      const after = next[next[best]];
      next[best] = after;
      partRank[best] = bestRank;
      count--;
      pairRank[best] = after < n
        ? this.#join(bytes, best, next[after], bestRank, partRank[after])
        : NO_PAIR;
      if (bestPrev >= 0) {
        pairRank[bestPrev] = this.#join(bytes, bestPrev, after, partRank[bestPrev], bestRank);
      }
    }
  }

  #byQueue(bytes: Uint8Array, parts: Parts, n: number): number {
    const { next, prev, pairRank, partRank, fifoNext, fifoPrev } = parts;
    const fifoHead = this.#fifoHead;
    const fifoTail = this.#fifoTail;
    const rankHeap = this.#rankHeap;
    const inRankHeap = this.#inRankHeap;
    let rankCount = 0;
    let overflowSize = 0;

    /** Queues the pair at `offset`, whose rank has just been set to `rank`. */
    const enqueue = (rank: number, offset: number): void => {
      const tail = fifoTail[rank];
      if (fifoHead[rank] === NONE) {
        fifoHead[rank] = offset;
        fifoTail[rank] = offset;
        fifoPrev[offset] = NONE;
        fifoNext[offset] = NONE;
        if (inRankHeap[rank] === 0) {
          inRankHeap[rank] = 1;
          rankCount = heapPushInt(rankHeap, rankCount, rank);
        }
      } else if (offset > tail) {
        fifoNext[tail] = offset;
        fifoPrev[offset] = tail;
        fifoNext[offset] = NONE;
        fifoTail[rank] = offset;
      } else {
        fifoPrev[offset] = OUT;
        if (overflowSize === parts.overflow.length) parts.overflow = grownFloat64(parts.overflow);
        overflowSize = heapPushKey(parts.overflow, overflowSize, rank * KEY_SCALE + offset);
      }
    };

    /** Takes the pair at `offset` (of rank `rank`) out of its FIFO, if it is in one. */
    const unlink = (rank: number, offset: number): void => {
      const before = fifoPrev[offset];
      if (before === OUT) return;
      const after = fifoNext[offset];
      if (before === NONE) fifoHead[rank] = after;
      else fifoNext[before] = after;
      if (after === NONE) fifoTail[rank] = before;
      else fifoPrev[after] = before;
      fifoPrev[offset] = OUT;
    };

    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      fifoPrev[i] = OUT;
      if (pairRank[i] >= 0) enqueue(pairRank[i], i);
    }

    let count = n;
    for (;;) {
      // Ranks whose FIFO emptied stay in the heap until they reach the top.
      while (rankCount > 0 && fifoHead[rankHeap[0]] === NONE) {
        inRankHeap[rankHeap[0]] = 0;
        rankCount = heapPopInt(rankHeap, rankCount);
      }
      let rank: number;
      let i: number;
      if (
        rankCount > 0 &&
        (overflowSize === 0 || rankHeap[0] * KEY_SCALE + fifoHead[rankHeap[0]] < parts.overflow[0])
      ) {
        rank = rankHeap[0];
        i = fifoHead[rank];
        unlink(rank, i);
      } else if (overflowSize > 0) {
        const key = parts.overflow[0];
        overflowSize = heapPopKey(parts.overflow, overflowSize);
        rank = Math.floor(key / KEY_SCALE);
        i = key - rank * KEY_SCALE;
        if (pairRank[i] !== rank) continue;
      } else {
        return count;
      }

      const absorbed = next[i];
      const after = next[absorbed];
      if (pairRank[absorbed] >= 0) unlink(pairRank[absorbed], absorbed);
      pairRank[absorbed] = ABSORBED;
      next[i] = after;
      if (after < n) prev[after] = i;
      partRank[i] = rank;
      count--;

      // Left neighbour first: it has the smaller offset, which keeps FIFO appends in order.
      const p = prev[i];
      if (p >= 0) {
        if (pairRank[p] >= 0) unlink(pairRank[p], p);
        const r = this.#join(bytes, p, after, partRank[p], rank);
        pairRank[p] = r;
        if (r >= 0) enqueue(r, p);
      }
      const r = after < n ? this.#join(bytes, i, next[after], rank, partRank[after]) : NO_PAIR;
      pairRank[i] = r;
      if (r >= 0) enqueue(r, i);
    }
  }
}

function grownFloat64(a: Float64Array): Float64Array {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}

// The Int32 and Float64 heaps are the same algorithm written twice on purpose: one function over
// both array types would be polymorphic, and V8 optimizes the merge loop's hottest calls only
// when each call site sees one array type (monomorphic).
function heapPushInt(heap: Int32Array, size: number, value: number): number {
  let i = size;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent] <= value) break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = value;
  return size + 1;
}

function heapPopInt(heap: Int32Array, size: number): number {
  const last = heap[--size];
  let i = 0;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && heap[child + 1] < heap[child]) child++;
    if (heap[child] >= last) break;
    heap[i] = heap[child];
    i = child;
  }
  heap[i] = last;
  return size;
}

function heapPushKey(heap: Float64Array, size: number, key: number): number {
  let i = size;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent] <= key) break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = key;
  return size + 1;
}

function heapPopKey(heap: Float64Array, size: number): number {
  const last = heap[--size];
  let i = 0;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && heap[child + 1] < heap[child]) child++;
    if (heap[child] >= last) break;
    heap[i] = heap[child];
    i = child;
  }
  heap[i] = last;
  return size;
}
