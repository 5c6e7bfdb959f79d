/**
 * Billed calls for the multi-replica end-to-end tests: a mix of tenants, models and routes, each
 * sent as a real client would, and what each client was told it cost (the body's `cost_usd` or the
 * `x-inference-cost-usd` header), summed per tenant and route to compare with `/v1/spend`.
 */
import assert from "node:assert/strict";
import { isLosslessNumber, type LosslessNumber, parse } from "lossless-json";
import { parseUsdPico } from "../../src/pricing/money.ts";
import { eventually, within } from "./poll.ts";

// An unknown tenant id in demo mode is billed (and recorded) as `other`.
export const CLIENT_TENANTS = ["team-search", "team-chat", "team-internal", "not-configured"];
export const BILLED_AS: Record<string, string> = { "not-configured": "other" };

/** One request of the mix: where it goes and how the client learns its cost. */
export interface Call {
  readonly route: string;
  readonly body: Record<string, unknown>;
  /** `/v1/inference` tells the cost in its body; the provider-shaped routes in a header. */
  readonly costIn: "body" | "header";
}

export function mixedCall(i: number): { tenant: string; call: Call } {
  const tenant = CLIENT_TENANTS[i % CLIENT_TENANTS.length];
  const maxTokens = 20 + (i * 7) % 90;
  const prompt = `Request ${i}: summarise the spend of ${tenant}`;
  const calls: Call[] = [
    {
      route: "/v1/inference",
      body: { prompt, model: ["gpt-4o-mini", "gpt-4o"][i % 2], max_tokens: maxTokens },
      costIn: "body",
    },
    {
      route: "/v1/chat/completions",
      body: {
        model: ["gpt-4o", "gpt-4o-mini"][i % 2],
        max_tokens: maxTokens,
        messages: [{ role: "user", content: prompt }],
      },
      costIn: "header",
    },
    {
      route: "/v1/messages",
      body: {
        model: ["claude-haiku-4-5", "claude-sonnet-4-5"][i % 2],
        max_tokens: maxTokens,
        messages: [{ role: "user", content: prompt }],
      },
      costIn: "header",
    },
    {
      route: "/v1/responses",
      body: { model: "gpt-4o-mini", input: prompt, max_output_tokens: maxTokens },
      costIn: "header",
    },
    {
      route: "/v1/embeddings",
      body: { model: "text-embedding-3-small", input: prompt },
      costIn: "header",
    },
  ];
  // Routes cycle at a different period than tenants, so every tenant meets every route.
  return { tenant, call: calls[Math.floor(i / CLIENT_TENANTS.length) % calls.length] };
}

/** What the clients were told, per billed tenant and route. */
export class Expected {
  readonly groups = new Map<string, { requests: number; refused: number; costPico: bigint }>();
  add(tenant: string, route: string, costPico: bigint | null) {
    const key = `${tenant} ${route}`;
    const group = this.groups.get(key) ?? { requests: 0, refused: 0, costPico: 0n };
    if (costPico === null) group.refused++;
    else {
      group.requests++;
      group.costPico += costPico;
    }
    this.groups.set(key, group);
  }
  get requests() {
    return [...this.groups.values()].reduce((n, g) => n + g.requests, 0);
  }
  get refused() {
    return [...this.groups.values()].reduce((n, g) => n + g.refused, 0);
  }
  get costPico() {
    return [...this.groups.values()].reduce((n, g) => n + g.costPico, 0n);
  }
}

/** An exact USD amount from a JSON number token (lossless-json) or a header, in picodollars. */
export function pico(value: unknown): bigint {
  const text = isLosslessNumber(value) ? (value as LosslessNumber).value : String(value);
  const parsed = parseUsdPico(text);
  if (parsed === null) throw new Error(`not a USD amount: ${text}`);
  return parsed;
}

export async function post(base: string, call: Call, tenant: string) {
  const response = await fetch(`${base}${call.route}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-tenant-id": tenant },
    body: JSON.stringify(call.body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  return { response, text };
}

/** Sends the call and returns what the client was told it cost (null for a 429 refusal). */
export async function costOf(base: string, call: Call, tenant: string): Promise<bigint | null> {
  const { response, text } = await post(base, call, tenant);
  if (response.status === 429) {
    assert.equal(JSON.parse(text).error.type, "budget_exceeded", text);
    return null;
  }
  assert.equal(response.status, 200, `${call.route} for ${tenant}: ${text}`);
  if (call.costIn === "header") {
    const header = response.headers.get("x-inference-cost-usd");
    assert.ok(header, `${call.route} answered without x-inference-cost-usd`);
    return pico(header);
  }
  return pico((parse(text) as { cost_usd: unknown }).cost_usd);
}

export interface SpendGroup {
  tenant: string;
  route: string;
  requests: LosslessNumber;
  refused_requests: LosslessNumber;
  cost_usd: LosslessNumber;
}
export interface SpendReport {
  total: { requests: LosslessNumber; refused_requests: LosslessNumber; cost_usd: LosslessNumber };
  groups: SpendGroup[];
}

/**
 * Waits until `base`'s /v1/spend (grouped by tenant and route, over `[fromMs, toMs)`) counts
 * every request `expected` holds, then asserts its totals and groups equal them exactly; returns
 * the report's text.
 */
export async function assertSpendEquals(
  base: string,
  expected: Expected,
  range: { readonly fromMs: number; readonly toMs: number },
  timeoutMs = 30_000,
): Promise<string> {
  const from = new Date(range.fromMs).toISOString();
  const to = new Date(range.toMs).toISOString();
  const query = `from=${from}&to=${to}&group_by=tenant,route`;
  const text = await eventually(
    `${base}'s /v1/spend to count all ${expected.requests} billed requests`,
    within(timeoutMs),
    async () => {
      const response = await fetch(`${base}/v1/spend?${query}`);
      const text = await response.text();
      if (!response.ok) throw new Error(`${response.status}: ${text}`);
      const report = parse(text) as SpendReport;
      const counted = Number(report.total.requests.value) +
        Number(report.total.refused_requests.value);
      return counted === expected.requests + expected.refused ? text : undefined;
    },
  );
  const report = parse(text) as SpendReport;
  assert.equal(pico(report.total.cost_usd), expected.costPico);
  assert.equal(Number(report.total.requests.value), expected.requests);
  assert.equal(Number(report.total.refused_requests.value), expected.refused);
  const groups = new Map(report.groups.map((g) => [`${g.tenant} ${g.route}`, {
    requests: Number(g.requests.value),
    refused: Number(g.refused_requests.value),
    costPico: pico(g.cost_usd),
  }]));
  assert.deepEqual(groups, expected.groups);
  return text;
}
