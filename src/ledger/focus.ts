/**
 * FinOps FOCUS 1.2 rows of the ledger: one per request and priced token kind. A request mixes
 * kinds with different unit prices (input, cache reads, cache writes, output), and FOCUS gives a
 * row one SKU, one consumed quantity and one unit price, so each kind with tokens is its own
 * row — as cloud providers report model tokens. Each row's cost is the kind's exact share of the
 * request's cost, so `BilledCost` adds up exactly to the spend report's total. Unpriced requests
 * (cost unknown) and refusals (no tokens) produce no FOCUS rows.
 */
import { formatUsd } from "../pricing/money.ts";
import { csvCell } from "./csv.ts";
import { type LedgerRow, TOKEN_KINDS, type TokenKind, tokensOfKind } from "./row.ts";

/** Who the export is from: FOCUS's billing account, which issues these internal charges. */
export interface FocusOptions {
  readonly billingAccountId: string;
  readonly billingAccountName: string;
}

const KIND_LABEL: Readonly<Record<TokenKind, string>> = {
  input: "input",
  cached_input: "cached input",
  cache_write_5m: "5-minute cache write",
  cache_write_1h: "1-hour cache write",
  output: "output",
};

/** The export's columns, in order: FOCUS's own (alphabetical), then custom `x_` columns. */
export const FOCUS_COLUMNS = [
  "BilledCost",
  "BillingAccountId",
  "BillingAccountName",
  "BillingCurrency",
  "BillingPeriodEnd",
  "BillingPeriodStart",
  "ChargeCategory",
  "ChargeClass",
  "ChargeDescription",
  "ChargeFrequency",
  "ChargePeriodEnd",
  "ChargePeriodStart",
  "ConsumedQuantity",
  "ConsumedUnit",
  "ContractedCost",
  "ContractedUnitPrice",
  "EffectiveCost",
  "InvoiceIssuerName",
  "ListCost",
  "ListUnitPrice",
  "PricingCategory",
  "PricingQuantity",
  "PricingUnit",
  "ProviderName",
  "PublisherName",
  "ResourceId",
  "ResourceName",
  "ResourceType",
  "ServiceCategory",
  "ServiceName",
  "ServiceSubcategory",
  "SkuId",
  "SkuPriceId",
  "SubAccountId",
  "SubAccountName",
  "SubAccountType",
  "Tags",
  "x_RequestId",
  "x_TokenKind",
  "x_ServiceTier",
  "x_PricingVersion",
  "x_UsageSource",
  "x_Status",
] as const;

/** A non-negative integer scaled down by 10^scale, as an exact decimal without trailing zeros. */
function decimal(value: bigint, scale: number): string {
  const unit = 10n ** BigInt(scale);
  const fraction = (value % unit).toString().padStart(scale, "0").replace(/0+$/, "");
  return `${value / unit}${fraction ? "." + fraction : ""}`;
}

/** FOCUS date/time: `YYYY-MM-DDTHH:mm:ssZ`, UTC, no fraction. */
const focusTime = (ms: number) => new Date(ms).toISOString().slice(0, 19) + "Z";

/**
 * The FOCUS lines of a ledger row (CSV text, cells in {@link FOCUS_COLUMNS} order; empty for an
 * unpriced row). What does not vary with the token kind is escaped once per row.
 */
export function focusWriter(options: FocusOptions): (row: LedgerRow) => string {
  const accountId = csvCell(options.billingAccountId);
  const accountName = csvCell(options.billingAccountName);
  return (row) => {
    if (row.kindCosts === null) return "";
    const d = new Date(row.ts);
    const billingStart = focusTime(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
    const billingEnd = focusTime(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
    const second = Math.floor(row.ts / 1000) * 1000;
    const chargeStart = focusTime(second);
    const chargeEnd = focusTime(second + 1000);
    const provider = csvCell(row.provider);
    const model = csvCell(row.model);
    const tenant = csvCell(row.tenant);
    const tags = csvCell(JSON.stringify({
      route: row.route,
      ...(row.keyName ? { key_name: row.keyName } : {}),
      ...(row.endUser ? { end_user: row.endUser } : {}),
    }));
    const tail = [
      csvCell(row.requestId),
      "", // x_TokenKind, filled per kind
      csvCell(row.serviceTier),
      csvCell(row.pricingVersion),
      csvCell(row.usageSource),
      csvCell(row.status),
    ];
    let lines = "";
    for (const kind of TOKEN_KINDS) {
      const tokens = tokensOfKind(row, kind);
      const cost = row.kindCosts[kind];
      if (tokens === 0 && cost === 0n) continue;
      const cost$ = formatUsd(cost);
      // Rates are whole micro-dollars per 1M tokens, so cost = tokens × rate exactly and the rate
      // is recovered without rounding: ListUnitPrice × PricingQuantity = ListCost.
      const unitPrice = tokens > 0 ? formatUsd((cost * 1_000_000n) / BigInt(tokens)) : "0";
      const skuId = `${row.model}/${kind}`;
      tail[1] = kind;
      lines += [
        cost$, // BilledCost
        accountId,
        accountName,
        "USD",
        billingEnd,
        billingStart,
        "Usage", // ChargeCategory
        "", // ChargeClass: not a correction
        csvCell(`${tokens} ${KIND_LABEL[kind]} tokens of ${row.model}`),
        "Usage-Based",
        chargeEnd,
        chargeStart,
        tokens, // ConsumedQuantity
        "Tokens",
        cost$, // ContractedCost
        unitPrice, // ContractedUnitPrice
        cost$, // EffectiveCost
        accountName, // InvoiceIssuerName
        cost$, // ListCost
        unitPrice, // ListUnitPrice
        "Standard", // PricingCategory
        decimal(BigInt(tokens), 6), // PricingQuantity, in millions of tokens
        "1000000 Tokens",
        provider, // ProviderName
        provider, // PublisherName
        model, // ResourceId
        model, // ResourceName
        "Model",
        "AI and Machine Learning",
        "Model inference",
        "Generative AI",
        csvCell(skuId),
        csvCell(`${skuId}@${row.pricingVersion}${row.priceTier ? "/" + row.priceTier : ""}`),
        tenant, // SubAccountId
        tenant, // SubAccountName
        "Tenant",
        tags,
        ...tail,
      ].join(",") + "\n";
    }
    return lines;
  };
}
