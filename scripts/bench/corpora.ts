/**
 * Deterministic text corpora for `scripts/bench/tokenizer.ts` and the tokenizer tests: the
 * benchmark measures the same kinds of text the tests prove exact. Everything is generated from
 * a seed, so no download is needed and a failure reproduces.
 */

/** A small, fast, seeded PRNG (mulberry32): `next()` is uniform in [0, 1). */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A uniformly chosen element. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** An element chosen with probability falling like 1/rank (roughly Zipf, as words are). */
  zipf<T>(items: readonly T[]): T {
    return items[Math.floor(Math.pow(items.length + 1, this.next())) - 1];
  }
}

/** Builds text from `part()` until it reaches `units` UTF-16 code units, cut to exactly that. */
function fill(units: number, part: () => string): string {
  const chunks: string[] = [];
  let length = 0;
  while (length < units) {
    const p = part();
    chunks.push(p);
    length += p.length;
  }
  const text = chunks.join("");
  // Do not cut a surrogate pair in half: an odd cut would add a lone surrogate to every corpus.
  const cut = units < text.length && /[\ud800-\udbff]/.test(text[units - 1]) ? units - 1 : units;
  return text.slice(0, cut);
}

const COMMON_WORDS = (
  "the of and to a in is it you that he was for on are with as I his they be at one have this " +
  "from or had by hot word but what some we can out other were all there when up use your how " +
  "said an each she which do their time if will way about many then them write would like so " +
  "these her long make thing see him two has look more day could go come did number sound no " +
  "most people my over know water than call first who may down side been now find any new work " +
  "part take get place made live where after back little only round man year came show every " +
  "good me give our under name very through just form sentence great think say help low line " +
  "differ turn cause much mean before move right boy old too same tell does set three want air " +
  "well also play small end put home read hand port large spell add even land here must big " +
  "high such follow act why ask men change went light kind off need house picture try us again " +
  "animal point mother world near build self earth father head stand own page should country " +
  "found answer school grow study still learn plant cover food sun four between state keep eye " +
  "never last let thought city tree cross farm hard start might story saw far sea draw left late " +
  "run while press close night real life few north open seem together next white children begin " +
  "got walk example ease paper group always music those both mark often letter until mile river " +
  "car feet care second book carry took science eat room friend began idea fish mountain stop " +
  "once base hear horse cut sure watch color face wood main enough plain girl usual young ready " +
  "above ever red list though feel talk bird soon body dog family direct pose leave song measure " +
  "door product black short numeral class wind question happen complete ship area half rock " +
  "order fire south problem piece told knew pass since top whole king space heard best hour " +
  "better true during hundred five remember step early hold west ground interest reach fast verb " +
  "sing listen six table travel less morning ten simple several vowel toward war lay against " +
  "pattern slow center love person money serve appear road map rain rule govern pull cold notice " +
  "voice unit power town fine certain fly fall lead cry dark machine note wait plan figure star " +
  "box noun field rest correct able pound done beauty drive stood contain front teach week final " +
  "gave green oh quick develop ocean warm free minute strong special mind behind clear tail " +
  "produce fact street inch multiply nothing course stay wheel full force blue object decide " +
  "surface deep moon island foot system busy test record boat common gold possible plane stead " +
  "dry wonder laugh thousand ago ran check game shape equate miss brought heat snow tire bring " +
  "yes distant fill east paint language among transformer inference latency throughput budget"
).split(" ");
const CONTRACTIONS = ["don't", "it's", "we're", "they've", "I'm", "you'll", "she'd", "can't"];
const SYLLABLES = ["ka", "lo", "mir", "tes", "an", "qu", "ver", "zho", "pel", "ith", "or", "um"];

/** English-like prose: Zipf-distributed common words, contractions, numbers, rare words. */
export function prose(units: number, seed = 1): string {
  const rng = new Rng(seed);
  let sentenceStart = true;
  return fill(units, () => {
    let word: string;
    const roll = rng.next();
    if (roll < 0.04) {
      // Rare words and names keep the piece cache honest: real text has a long tail.
      word = "";
      for (let s = 1 + rng.int(4); s > 0; s--) word += rng.pick(SYLLABLES);
    } else if (roll < 0.06) word = rng.pick(CONTRACTIONS);
    else if (roll < 0.08) word = String(rng.int(rng.next() < 0.5 ? 100 : 100_000));
    else word = rng.zipf(COMMON_WORDS);
    if (sentenceStart) word = word[0].toUpperCase() + word.slice(1);
    sentenceStart = false;
    const p = rng.next();
    if (p < 0.07) {
      sentenceStart = true;
      return word + rng.pick([". ", ". ", "? ", "! ", ".\n\n"]);
    }
    if (p < 0.14) return word + rng.pick([", ", ", ", "; ", ": ", " - "]);
    if (p < 0.15) return `"${word}" `;
    return word + " ";
  });
}

const IDENTIFIERS = [
  "request",
  "response",
  "tokenCount",
  "cost_usd",
  "model",
  "tenant",
  "i",
  "j",
  "buffer",
  "handler",
  "ctx",
  "value",
  "result",
  "err",
  "self",
  "items",
  "max_tokens",
  "priceFor",
  "record_usage",
  "HTTPServer",
];
const KEYWORDS = ["const", "let", "return", "if", "for", "while", "function", "def", "import"];

/** Source code in a TypeScript/Python mix: indentation, identifiers, operators, literals. */
export function code(units: number, seed = 2): string {
  const rng = new Rng(seed);
  let depth = 0;
  return fill(units, () => {
    const indent = rng.next() < 0.1 ? "\t".repeat(depth) : "  ".repeat(depth);
    const a = rng.pick(IDENTIFIERS);
    const b = rng.pick(IDENTIFIERS);
    let line: string;
    switch (rng.int(9)) {
      case 0:
        line = `${rng.pick(KEYWORDS)} ${a} = ${b}.${rng.pick(IDENTIFIERS)}(${rng.int(1000)});`;
        break;
      case 1:
        line = `if (${a} !== ${b} && ${a}.length >= ${rng.int(64)}) {`;
        depth = Math.min(depth + 1, 6);
        break;
      case 2:
        line = "}";
        depth = Math.max(depth - 1, 0);
        break;
      case 3:
        line = `// ${prose(20 + rng.int(60), rng.int(1e9)).trim()}`;
        break;
      case 4:
        line = `${a}["${b}"] += ${(rng.next() * 100).toFixed(rng.int(6))}e-${rng.int(12)};`;
        break;
      case 5:
        line = `def ${a}(${b}, *args, **kwargs):  # noqa: E501`;
        break;
      case 6:
        line = `return { ${a}: ${b} ?? null, "${a}_${b}": [0x${rng.int(65536).toString(16)}] };`;
        break;
      case 7:
        line = `for (let ${a} = 0; ${a} < ${b}.length; ${a}++) ${b}[${a}] <<= 2;`;
        break;
      default:
        line = "";
    }
    return indent + line + (rng.next() < 0.05 ? "\r\n" : "\n");
  });
}

const HANZI =
  "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持音跑族片故";
const KANA =
  "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんアイウエオカキクケコサシスセソタチツテトナニヌネノ";
const HANZI_CHARS = Array.from(HANZI);
const KANA_CHARS = Array.from(KANA);
const HANGUL = "가나다라마바사아자차카타파하한국어문장입니다는을를에서";

/** Chinese and Japanese text: long runs of Han and kana with CJK punctuation, some ASCII. */
export function cjk(units: number, seed = 3): string {
  const rng = new Rng(seed);
  return fill(units, () => {
    let run = "";
    for (let k = 2 + rng.int(30); k > 0; k--) {
      run += rng.next() < 0.7 ? rng.zipf(HANZI_CHARS) : rng.pick(KANA_CHARS);
    }
    const p = rng.next();
    if (p < 0.05) return run + ` ${rng.int(2025)}年 `;
    if (p < 0.08) return run + " GPU ";
    return run + rng.pick(["。", "、", "，", "「", "」", "！", "？", "\n", "：", "（", "）"]);
  });
}

const EMOJI = [
  "😀",
  "😂",
  "🥲",
  "❤️",
  "👍",
  "👍🏽",
  "🎉",
  "🔥",
  "🚀",
  "🤖",
  "👩‍💻",
  "👨‍👩‍👧‍👦",
  "🏳️‍🌈",
  "🇺🇸",
  "🇯🇵",
  "✅",
  "⚠️",
  "💸",
  "🧠",
  "🫠",
  "☕",
  "🍕",
];

/** Emoji: modifiers, ZWJ sequences, flags, variation selectors, runs with and without spaces. */
export function emoji(units: number, seed = 4): string {
  const rng = new Rng(seed);
  return fill(units, () => {
    let run = "";
    for (let k = 1 + rng.int(6); k > 0; k--) run += rng.zipf(EMOJI);
    const p = rng.next();
    if (p < 0.2) return run + " " + rng.zipf(COMMON_WORDS) + " ";
    if (p < 0.3) return run + "\n";
    return run + " ";
  });
}

const SCRIPTS = [
  "Привет, как дела? Это тест токенизатора.",
  "Καλημέρα κόσμε, ένα δοκιμαστικό κείμενο.",
  "مرحبا بالعالم، هذا نص تجريبي.",
  "नमस्ते दुनिया, यह एक परीक्षण है।",
  "สวัสดีชาวโลก นี่คือการทดสอบ",
  "שלום עולם, זה טקסט לבדיקה.",
  "Ünïcödé çàfé naïve résumé Straße",
  "e\u0301 a\u0308 n\u0303 o\u0302\u0323 Z\u0351\u0334\u0353",
  "Ǆǅǆ ǈ ǋ ﬁ ﬂ ẞ ſ İ ı K Å",
  "١٢٣ ٤٥٦ ۷۸۹ １２３ ① ½ Ⅻ ⁴²",
  "Tiếng Việt có dấu: người, được, những.",
  "ქართული ენა · Հայերեն · ᠮᠣᠩᠭᠣᠯ",
  "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙 𝐀𝐁𝐂 𓀀𓀁",
  "it's IT'S It'S you'RE we'Ve I'M they'LL he'D don'T",
];

/** Mixed scripts: Cyrillic, Greek, Arabic, Devanagari, Thai, Hangul, combining marks, digits. */
export function mixedScripts(units: number, seed = 5): string {
  const rng = new Rng(seed);
  return fill(units, () => {
    const p = rng.next();
    if (p < 0.15) return HANGUL.slice(rng.int(10), 10 + rng.int(18)) + " ";
    if (p < 0.25) return rng.zipf(COMMON_WORDS) + rng.pick([" ", ", ", "\n"]);
    return rng.pick(SCRIPTS) + rng.pick([" ", "\n", "  ", "\t"]);
  });
}

const WHITESPACE = [" ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u0085", "\ufeff"];

/** Whitespace runs of every kind (including U+0085 and U+FEFF) between short words. */
export function whitespace(units: number, seed = 6): string {
  const rng = new Rng(seed);
  return fill(units, () => {
    let run = "";
    for (let k = rng.int(12); k > 0; k--) run += rng.pick(WHITESPACE);
    if (rng.next() < 0.05) run += " ".repeat(rng.int(200));
    return run + rng.pick(["x", "word", "!", "1", "'s", "Hello", "\u2028", "\u1680", "{"]);
  });
}

/** Numbers: digit runs of every length, decimals, separators, other digit scripts. */
export function numbers(units: number, seed = 7): string {
  const rng = new Rng(seed);
  return fill(units, () => {
    let digits = "";
    for (let k = 1 + rng.int(rng.next() < 0.1 ? 40 : 8); k > 0; k--) digits += rng.int(10);
    const p = rng.next();
    if (p < 0.1) return digits + "." + rng.int(1000) + " ";
    if (p < 0.2) return "$" + Number(digits.slice(0, 9)).toLocaleString("en-US") + " ";
    if (p < 0.25) return "٣٤٥" + digits + "１２ ";
    return digits + rng.pick([" ", ",", "\n", "-", "x", "th "]);
  });
}

/** Text that looks like special tokens of OpenAI's and Llama 3's vocabularies. */
export function specialLooking(units: number, seed = 8): string {
  const rng = new Rng(seed);
  const specials = [
    "<|endoftext|>",
    "<|endofprompt|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|begin_of_text|>",
    "<|eot_id|>",
    "<|start_header_id|>",
    "<|reserved_special_token_7|>",
    "<|",
    "|>",
  ];
  return fill(units, () => rng.pick(specials) + rng.pick(["", " ", "user", "\n", "text "]));
}

/**
 * Random code points from the whole range (unassigned, private use, noncharacters, astral), and
 * with `loneSurrogates` also unpaired UTF-16 surrogates.
 */
export function randomUnicode(units: number, seed = 9, loneSurrogates = true): string {
  const rng = new Rng(seed);
  return fill(units, () => {
    const p = rng.next();
    if (p < 0.3) return String.fromCharCode(32 + rng.int(95));
    if (p < 0.5) return String.fromCodePoint(0x80 + rng.int(0x800 - 0x80));
    if (p < 0.75) {
      const c = rng.int(0x10000);
      if (c >= 0xd800 && c <= 0xdfff) {
        return loneSurrogates ? String.fromCharCode(c) : "\ufffd";
      }
      return String.fromCharCode(c);
    }
    return String.fromCodePoint(0x10000 + rng.int(0x110000 - 0x10000));
  });
}

/** Random bytes as a server would see them: decoded as UTF-8 with U+FFFD for invalid input. */
export function randomBytes(bytes: number, seed = 10): string {
  const rng = new Rng(seed);
  const raw = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) raw[i] = rng.int(256);
  return new TextDecoder().decode(raw);
}

/** Every corpus kind by name, for tests and the benchmark to iterate over. */
export const CORPORA: Record<string, (units: number, seed?: number) => string> = {
  prose,
  code,
  cjk,
  emoji,
  mixedScripts,
  whitespace,
  numbers,
  specialLooking,
  randomUnicode,
  randomBytes,
};
