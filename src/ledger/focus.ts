/**
 * FinOps FOCUS 1.2 rows of the ledger: one per request and priced token kind. A request mixes
 * kinds with different unit prices (input, cache reads, cache writes, output), and FOCUS gives a
 * row one SKU, one consumed quantity and one unit price, so each kind with tokens is its own
 * row — as cloud providers report model tokens. Each row's cost is the kind's exact share of the
 * request's cost, so `BilledCost` adds up exactly to the spend report's total. Unpriced requests
 * (cost unknown) and refusals (no tokens) produce no FOCUS rows.
 */
import { formatUsd } from "../pricing/money.ts";
import { type LedgerRow, TOKEN_KINDS, type TokenKind, tokensOfKind } from "./row.ts";

/** Who the export is from: FOCUS's billing account, which issues these internal charges. */
export interface FocusOptions {
  readonly billingAccountId: string;
  readonly billingAccountName: string;
}

/** The FOCUS version the export follows. */
export const FOCUS_VERSION = "1.2";

const KIND_LABEL: Readonly<Record<TokenKind, string>> = {
  input: "input",
  cached_input: "cached input",
  cache_write_5m: "5-minute cache write",
  cache_write_1h: "1-hour cache write",
  output: "output",
};

type Cell = string | number | null;

/** A FOCUS row as column → value. */
type FocusRow = Readonly<Record<string, Cell>>;

/** A non-negative integer scaled down by 10^scale, as an exact decimal without trailing zeros. */
function decimal(value: bigint, scale: number): string {
  const unit = 10n ** BigInt(scale);
  const fraction = (value % unit).toString().padStart(scale, "0").replace(/0+$/, "");
  return `${value / unit}${fraction ? "." + fraction : ""}`;
}

/** FOCUS date/time: `YYYY-MM-DDTHH:mm:ssZ`, UTC, no fraction. */
const focusTime = (ms: number) => new Date(ms).toISOString().slice(0, 19) + "Z";

function monthBounds(ms: number): [number, number] {
  const d = new Date(ms);
  return [
    Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1),
    Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1),
  ];
}

/** The FOCUS rows of one ledger row (none for unpriced rows and kinds without tokens). */
export function focusRowsOf(row: LedgerRow, options: FocusOptions): FocusRow[] {
  if (row.kindCosts === null) return [];
  const out: FocusRow[] = [];
  const second = Math.floor(row.ts / 1000) * 1000;
  const [monthStart, monthEnd] = monthBounds(row.ts);
  for (const kind of TOKEN_KINDS) {
    const tokens = tokensOfKind(row, kind);
    const cost = row.kindCosts[kind];
    if (tokens === 0 && cost === 0n) continue;
    const cost$ = formatUsd(cost);
    // Rates are whole micro-dollars per 1M tokens, so cost = tokens × rate exactly and the rate
    // is recovered without rounding: ListUnitPrice × PricingQuantity = ListCost.
    const unitPrice = tokens > 0 ? formatUsd((cost * 1_000_000n) / BigInt(tokens)) : "0";
    const skuId = `${row.model}/${kind}`;
    out.push({
      BilledCost: cost$,
      BillingAccountId: options.billingAccountId,
      BillingAccountName: options.billingAccountName,
      BillingCurrency: "USD",
      BillingPeriodEnd: focusTime(monthEnd),
      BillingPeriodStart: focusTime(monthStart),
      ChargeCategory: "Usage",
      ChargeClass: null,
      ChargeDescription: `${tokens} ${KIND_LABEL[kind]} tokens of ${row.model}`,
      ChargeFrequency: "Usage-Based",
      ChargePeriodEnd: focusTime(second + 1000),
      ChargePeriodStart: focusTime(second),
      ConsumedQuantity: tokens,
      ConsumedUnit: "Tokens",
      ContractedCost: cost$,
      ContractedUnitPrice: unitPrice,
      EffectiveCost: cost$,
      InvoiceIssuerName: options.billingAccountName,
      ListCost: cost$,
      ListUnitPrice: unitPrice,
      PricingCategory: "Standard",
      PricingQuantity: decimal(BigInt(tokens), 6),
      PricingUnit: "1000000 Tokens",
      ProviderName: row.provider,
      PublisherName: row.provider,
      ResourceId: row.model,
      ResourceName: row.model,
      ResourceType: "Model",
      ServiceCategory: "AI and Machine Learning",
      ServiceName: "Model inference",
      ServiceSubcategory: "Generative AI",
      SkuId: skuId,
      SkuPriceId: `${skuId}@${row.pricingVersion}${row.priceTier ? "/" + row.priceTier : ""}`,
      SubAccountId: row.tenant,
      SubAccountName: row.tenant,
      SubAccountType: "Tenant",
      Tags: JSON.stringify({
        route: row.route,
        ...(row.keyName ? { key_name: row.keyName } : {}),
        ...(row.endUser ? { end_user: row.endUser } : {}),
      }),
      x_RequestId: row.requestId,
      x_TokenKind: kind,
      x_ServiceTier: row.serviceTier,
      x_PricingVersion: row.pricingVersion,
      x_UsageSource: row.usageSource,
      x_Status: row.status,
    });
  }
  return out;
}

const SAMPLE: LedgerRow = {
  requestId: "",
  ts: 0,
  tenant: "",
  keyName: null,
  endUser: null,
  model: "",
  requestModel: "",
  provider: "",
  route: "",
  operation: "",
  status: "",
  errorType: null,
  inputTokens: 1,
  cachedInputTokens: 0,
  cacheWrite5mTokens: 0,
  cacheWrite1hTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
  serviceTier: null,
  priceTier: null,
  costPico: 0n,
  kindCosts: { input: 0n, cached_input: 0n, cache_write_5m: 0n, cache_write_1h: 0n, output: 0n },
  unpriced: false,
  usageSource: "provider",
  pricingVersion: "",
  traceId: null,
};

/** The export's column names, in order. */
export function focusColumns(): string[] {
  return Object.keys(focusRowsOf(SAMPLE, { billingAccountId: "", billingAccountName: "" })[0]);
}

/** FOCUS records (cells in {@link focusColumns} order) of a stream of ledger rows. */
export async function* focusRecords(
  rows: AsyncIterable<LedgerRow>,
  options: FocusOptions,
): AsyncGenerator<Cell[]> {
  for await (const row of rows) {
    for (const focus of focusRowsOf(row, options)) yield Object.values(focus);
  }
}
