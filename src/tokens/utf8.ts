/**
 * UTF-8 encoding of a slice of a JavaScript string into a caller-owned buffer.
 *
 * `TextEncoder.encodeInto` would need a substring per pre-token; this writes the bytes of
 * `text[start, end)` straight into a reused buffer. Lone surrogates become U+FFFD (EF BF BD),
 * exactly as `TextEncoder` does — and as the WASM `tiktoken` package sees them, since its
 * bindings pass strings through `TextEncoder`.
 */

/** The largest number of UTF-8 bytes `encodeUtf8Into` can write for `units` UTF-16 code units. */
export function maxUtf8Bytes(units: number): number {
  return units * 3;
}

/**
 * Writes the UTF-8 bytes of `text[start, end)` into `out` from index 0 and returns how many were
 * written; `out` must hold at least `maxUtf8Bytes(end - start)` bytes.
 */
export function encodeUtf8Into(text: string, start: number, end: number, out: Uint8Array): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
      continue;
    }
    if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 0x3f);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      if (c <= 0xdbff && i + 1 < end) {
        const low = text.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
          out[n++] = 0xf0 | (cp >> 18);
          out[n++] = 0x80 | ((cp >> 12) & 0x3f);
          out[n++] = 0x80 | ((cp >> 6) & 0x3f);
          out[n++] = 0x80 | (cp & 0x3f);
          i++;
          continue;
        }
      }
      c = 0xfffd;
    }
    out[n++] = 0xe0 | (c >> 12);
    out[n++] = 0x80 | ((c >> 6) & 0x3f);
    out[n++] = 0x80 | (c & 0x3f);
  }
  return n;
}
