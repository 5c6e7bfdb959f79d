/**
 * Turns an encoding's pre-tokenization pattern (as js-tiktoken ships it) into a JavaScript
 * RegExp that splits text exactly as tiktoken's Rust regex does.
 *
 * js-tiktoken already rewrote Rust's `(?i:'s|…)` into explicit case variants. One difference
 * remains: `\s`. Rust's `\s` is Unicode White_Space, which includes U+0085 (NEXT LINE) and
 * excludes U+FEFF; JavaScript's `\s` is the reverse on both. So `"   \u0085x"` is three tokens
 * in tiktoken but four in js-tiktoken. Every `\s` / `\S` is replaced by the explicit
 * White_Space set, inside and outside character classes.
 *
 * Linear time: every alternative of the o200k/cl100k/Llama 3 patterns either matches or fails
 * within the run of same-class characters it started on, and the text is matched with a sticky
 * regex from one piece end to the next, so no position is rescanned more than a constant number
 * of times per alternative. `tests/tokens/pretokenizer_test.ts` splits megabyte-long runs of
 * each character class (spaces before a letter, uppercase, titlecase, combining marks, " \n",
 * lone surrogates, …); counting each of them takes under 0.1 s of CPU with o200k_base.
 */

/** Unicode White_Space (Rust regex `\s`), as the inside of a character class. */
export const WHITE_SPACE_CLASS =
  "\\t\\n\\v\\f\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";

/**
 * Rewrites `pattern` with Rust's `\s`, non-capturing groups, and returns it compiled sticky and
 * Unicode-aware, ready for `lastIndex`-driven matching.
 */
export function compilePretokenizer(pattern: string): RegExp {
  let out = "";
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") {
      const e = pattern[i + 1];
      i++;
      if (e === "s") {
        out += inClass ? WHITE_SPACE_CLASS : `[${WHITE_SPACE_CLASS}]`;
      } else if (e === "S") {
        if (inClass) throw new Error("\\S inside a character class is not supported");
        out += `[^${WHITE_SPACE_CLASS}]`;
      } else {
        out += c + e;
      }
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      out += c;
      continue;
    }
    if (c === "[") inClass = true;
    // Captures are never read; plain groups are cheaper for the engine.
    if (c === "(" && pattern[i + 1] !== "?") {
      out += "(?:";
      continue;
    }
    out += c;
  }
  return new RegExp(out, "uy");
}
