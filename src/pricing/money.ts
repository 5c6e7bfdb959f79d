/**
 * Exact money arithmetic. Every cost is an integer number of picodollars (1e-12 USD): a price of
 * at most six decimals in USD per 1M tokens is an integer number of micro-dollars per 1M tokens,
 * so tokens × that rate is exactly the cost in picodollars. No float is ever summed for money.
 */

/** One US dollar in picodollars. */
export const PICO_PER_USD = 1_000_000_000_000n;

/**
 * Parses a non-negative decimal (a JSON number or a decimal string) with at most `decimals`
 * fractional digits into an integer scaled by 10^decimals; null when it is not such a value.
 * @example parseScaledDecimal(0.075, 6) // 75000n
 */
export function parseScaledDecimal(value: number | string, decimals: number): bigint | null {
  const text = typeof value === "number" ? numberToPlainString(value) : value.trim();
  if (text === null) return null;
  const match = /^(\d{1,12})(?:\.(\d+))?$/.exec(text);
  if (!match || (match[2] ?? "").length > decimals) return null;
  const fraction = (match[2] ?? "").padEnd(decimals, "0");
  return BigInt(match[1]) * 10n ** BigInt(decimals) + BigInt(fraction || "0");
}

/** Parses a USD-per-1M-tokens rate (at most six decimals) into micro-dollars per 1M tokens. */
export function parseRateMicros(value: number | string): bigint | null {
  return parseScaledDecimal(value, 6);
}

/** Parses a USD amount (at most twelve decimals) into picodollars. */
export function parseUsdPico(value: number | string): bigint | null {
  return parseScaledDecimal(value, 12);
}

function numberToPlainString(value: number): string | null {
  if (!Number.isFinite(value) || value < 0) return null;
  // Shortest round-trip form; a value that needs an exponent is out of range for money here.
  const text = String(value);
  return /e/i.test(text) ? null : text;
}

/** Cost in picodollars of `tokens` at `rateMicros` micro-USD per 1M tokens: exact, no rounding. */
export function costPico(tokens: number, rateMicros: bigint): bigint {
  return BigInt(tokens) * rateMicros;
}

/**
 * Formats picodollars as an exact decimal USD string without exponent or trailing zeros.
 * @example formatUsd(6_900_000n) // "0.0000069"
 */
export function formatUsd(pico: bigint): string {
  const negative = pico < 0n;
  const abs = negative ? -pico : pico;
  const whole = abs / PICO_PER_USD;
  const fraction = (abs % PICO_PER_USD).toString().padStart(12, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}${fraction ? "." + fraction : ""}`;
}

/**
 * Picodollars as a JS number of USD. Exact for any value with at most 15 significant digits
 * (every single request's cost in practice); used for JSON bodies, span attributes and counters.
 *
 * Up to 2^53 picodollars (~$9,007) the count and 10^12 are both exact doubles, and IEEE division
 * rounds their quotient to the nearest double, which is what parsing the exact decimal gives: the
 * same number without formatting a string (it ran on every request).
 */
export function picoToUsd(pico: bigint): number {
  if (pico >= -MAX_EXACT_PICO && pico <= MAX_EXACT_PICO) return Number(pico) / 1e12;
  return Number(formatUsd(pico));
}

const MAX_EXACT_PICO = BigInt(Number.MAX_SAFE_INTEGER);
