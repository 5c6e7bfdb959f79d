/**
 * Every published test vector (src/pricing/test-vectors.json) through the gateway: the fake
 * provider reports the vector's usage in its protocol's shape, a client sends the request
 * unchanged but for its base URL, and the gateway must bill exactly the vector's cost — the
 * `x-inference-cost-usd` header (non-streamed answers), `inference_cost_usd_total{model,tenant}`,
 * the tenant's budget spend (in the store, in picodollars, and its gauge) and the request span's
 * cost, price tier and token attributes. OpenAI-shaped usage (cached input, reasoning, service
 * tier) goes through the `openai` SDK's Responses and Chat Completions calls and the Vercel AI
 * SDK's default provider; cache writes and Anthropic models through `@anthropic-ai/sdk`;
 * embeddings through `client.embeddings.create`; each plain and streamed where the API streams.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { generateText, streamText } from "ai";
import { createOpenAI } from "@ai-sdk/openai";
import { startFakeUpstream, startGateway, TEXT_CHUNKS } from "../helpers/fake_upstream.ts";
import { FAKE_EMBEDDING, type ReportedUsage } from "../helpers/fake_answers.ts";
import { withJsonFile } from "../helpers/files.ts";
import { total } from "../helpers/prom.ts";
import { embeddedPriceTable } from "../../src/pricing/pricing.ts";

interface Vector {
  readonly name: string;
  readonly rule: string;
  readonly model: string;
  readonly usage: ReportedUsage;
  readonly expected: {
    readonly price_tier: string | null;
    readonly cost_pico: string | null;
    readonly cost_usd: string | null;
  };
}

const VECTORS: readonly Vector[] = JSON.parse(
  await Deno.readTextFile(new URL("../../src/pricing/test-vectors.json", import.meta.url)),
).vectors;
const PRICES = embeddedPriceTable();
const TENANT = "team-chat";
const PROMPT = "Say hello.";
const TEXT = TEXT_CHUNKS.join("");

/** Which API a vector's usage can be reported over. */
function apiOf(vector: Vector): "openai" | "anthropic" | "embeddings" {
  if (vector.rule === "embeddings") return "embeddings";
  const anthropic = PRICES.resolve(vector.model)?.provider === "anthropic";
  return anthropic || vector.usage.cache_write_tokens > 0 ? "anthropic" : "openai";
}

/** The model names a provider of `protocol` must list: every vector sent over it. */
function modelsOver(protocol: "openai" | "anthropic"): string[] {
  const over = VECTORS.filter((v) => (apiOf(v) === "anthropic") === (protocol === "anthropic"));
  return [...new Set(over.map((v) => v.model))];
}

type Gateway = Awaited<ReturnType<typeof startGateway>>;

/** What one client call saw: the text (or vector) it got, and the header when not streamed. */
interface Seen {
  readonly content: unknown;
  /** The x-inference-cost-usd header; undefined for a stream, which has none. */
  readonly header?: string | null;
}

/** One way of sending a vector's request. */
type Way = (url: string, model: string) => Promise<Seen>;

const openAiClient = (url: string) =>
  new OpenAI({
    apiKey: "client-key",
    baseURL: `${url}/v1`,
    maxRetries: 0,
    defaultHeaders: { "x-tenant-id": TENANT },
  });

const vercelProvider = (url: string) =>
  createOpenAI({ baseURL: `${url}/v1`, apiKey: "client-key", headers: { "x-tenant-id": TENANT } });

const anthropicClient = (url: string) =>
  new Anthropic({
    apiKey: "client-key",
    baseURL: url,
    maxRetries: 0,
    defaultHeaders: { "x-tenant-id": TENANT },
  });

const WAYS: Record<"openai" | "anthropic" | "embeddings", Record<string, Way>> = {
  openai: {
    "openai SDK responses.create": async (url, model) => {
      const { data, response } = await openAiClient(url).responses.create({ model, input: PROMPT })
        .withResponse();
      return { content: data.output_text, header: response.headers.get("x-inference-cost-usd") };
    },
    "openai SDK responses.create, streamed": async (url, model) => {
      const stream = await openAiClient(url).responses.create({
        model,
        input: PROMPT,
        stream: true,
      });
      let text = "";
      for await (const event of stream) {
        if (event.type === "response.output_text.delta") text += event.delta;
      }
      return { content: text };
    },
    "openai SDK chat.completions.create": async (url, model) => {
      const { data, response } = await openAiClient(url).chat.completions.create({
        model,
        messages: [{ role: "user", content: PROMPT }],
      }).withResponse();
      return {
        content: data.choices[0].message.content,
        header: response.headers.get("x-inference-cost-usd"),
      };
    },
    "openai SDK chat.completions.create, streamed": async (url, model) => {
      const stream = await openAiClient(url).chat.completions.create({
        model,
        messages: [{ role: "user", content: PROMPT }],
        stream: true,
      });
      let text = "";
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
      return { content: text };
    },
    "Vercel AI SDK generateText": async (url, model) => {
      const result = await generateText({
        model: vercelProvider(url)(model),
        prompt: PROMPT,
        maxRetries: 0,
      });
      const header = result.response.headers?.["x-inference-cost-usd"] ?? null;
      return { content: result.text, header };
    },
    "Vercel AI SDK streamText": async (url, model) => {
      let failure: unknown;
      const result = streamText({
        model: vercelProvider(url)(model),
        prompt: PROMPT,
        maxRetries: 0,
        onError: ({ error }) => failure = error,
      });
      let text = "";
      for await (const delta of result.textStream) text += delta;
      if (failure) throw failure;
      return { content: text };
    },
  },
  anthropic: {
    "Anthropic SDK messages.create": async (url, model) => {
      const { data, response } = await anthropicClient(url).messages.create({
        model,
        max_tokens: 1000,
        messages: [{ role: "user", content: PROMPT }],
      }).withResponse();
      const block = data.content[0];
      return {
        content: block.type === "text" ? block.text : block,
        header: response.headers.get("x-inference-cost-usd"),
      };
    },
    "Anthropic SDK messages.create, streamed": async (url, model) => {
      const stream = await anthropicClient(url).messages.create({
        model,
        max_tokens: 1000,
        messages: [{ role: "user", content: PROMPT }],
        stream: true,
      });
      let text = "";
      for await (const event of stream) {
        if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
          text += event.delta.text;
        }
      }
      return { content: text };
    },
  },
  embeddings: {
    "openai SDK embeddings.create, float": async (url, model) => {
      const { data, response } = await openAiClient(url).embeddings.create({
        model,
        input: PROMPT,
        encoding_format: "float",
      }).withResponse();
      return {
        content: data.data[0].embedding,
        header: response.headers.get("x-inference-cost-usd"),
      };
    },
    "openai SDK embeddings.create, base64": async (url, model) => {
      const { data, response } = await openAiClient(url).embeddings.create({ model, input: PROMPT })
        .withResponse();
      return {
        content: data.data[0].embedding,
        header: response.headers.get("x-inference-cost-usd"),
      };
    },
  },
};

/** Runs `fn` against a gateway routing every vector's model to a fake reporting `usage`. */
async function withVectorGateway(
  usage: ReportedUsage,
  fn: (gateway: Gateway) => Promise<void>,
): Promise<void> {
  const tenants = {
    tenants: [
      { id: "default", hourly_alert_threshold_usd: 25 },
      { id: TENANT, hourly_alert_threshold_usd: 100, budgets: { month: "10000" } },
    ],
  };
  await withJsonFile(tenants, async (tenantsFile) => {
    const fake = startFakeUpstream();
    fake.reported = usage;
    const gateway = await startGateway({
      unrouted_models: "reject",
      providers: [
        {
          name: "openai",
          protocol: "openai",
          base_url: fake.openAiBaseUrl,
          api_key_env: "FAKE_UPSTREAM_KEY",
          models: modelsOver("openai"),
        },
        {
          name: "anthropic",
          protocol: "anthropic",
          base_url: fake.anthropicBaseUrl,
          api_key_env: "FAKE_UPSTREAM_KEY",
          models: modelsOver("anthropic"),
        },
      ],
    }, { TENANTS_FILE: tenantsFile, UNPRICED_POLICY: "allow" });
    try {
      await fn(gateway);
    } finally {
      await gateway.stop();
      await fake.stop();
    }
  });
}

/** The gateway billed exactly the vector: counter, budget spend and span; header checked apart. */
async function assertBilledAsVector(gateway: Gateway, vector: Vector, api: string) {
  const { expected, usage } = vector;
  const price = PRICES.resolve(vector.model);
  const model = price?.id ?? "unknown";
  const m = await gateway.metrics();
  assert.equal(total(m, "inference_requests_total", { model, tenant: TENANT, status: "ok" }), 1);
  const spent = await gateway.services.budgets.spent(TENANT, "month", new Date());
  const gauge = total(m, "inference_budget_spent_usd", { tenant: TENANT, window: "month" });
  const span = gateway.exporter.getFinishedSpans().find((s) => s.name === "inference_request");
  assert.ok(span, "the request span ended");
  const attributes = span.attributes;
  if (expected.cost_usd === null) {
    assert.equal(total(m, "inference_cost_usd_total"), 0);
    assert.equal(total(m, "inference_unpriced_requests_total", { tenant: TENANT }), 1);
    assert.equal(spent, 0n);
    assert.equal(attributes["inference.cost_usd"], undefined);
    assert.equal(attributes["gen_ai.usage.cost.amount"], undefined);
    assert.equal(attributes["inference.price_tier"], undefined);
  } else {
    const usd = Number(expected.cost_usd);
    assert.equal(total(m, "inference_cost_usd_total", { model, tenant: TENANT }), usd);
    assert.equal(spent, BigInt(expected.cost_pico!));
    assert.equal(gauge, usd);
    assert.equal(attributes["inference.cost_usd"], usd);
    assert.equal(attributes["gen_ai.usage.cost.amount"], usd);
    assert.equal(attributes["gen_ai.usage.cost.currency"], "USD");
    assert.equal(attributes["gen_ai.usage.cost.source"], "local");
    assert.equal(attributes["inference.price_tier"], expected.price_tier);
  }
  assert.equal(attributes["gen_ai.operation.name"], api === "embeddings" ? "embeddings" : "chat");
  assert.equal(attributes["inference.usage_source"], "provider");
  assert.equal(attributes["gen_ai.usage.input_tokens"], usage.input_tokens);
  assert.equal(attributes["gen_ai.usage.output_tokens"], usage.output_tokens);
  const optional: [string, number | string | undefined][] = [
    ["gen_ai.usage.cache_read.input_tokens", usage.cached_input_tokens || undefined],
    ["gen_ai.usage.cache_write.input_tokens", usage.cache_write_tokens || undefined],
    ["inference.usage.cache_write_1h.input_tokens", usage.cache_write_1h_tokens || undefined],
    ["gen_ai.usage.reasoning.output_tokens", usage.reasoning_tokens || undefined],
    // OpenAI's answers always name the tier that served them; the vector's, else `default`.
    [
      "openai.response.service_tier",
      api === "openai" ? usage.service_tier ?? "default" : undefined,
    ],
  ];
  for (const [name, value] of optional) assert.equal(attributes[name], value, name);
}

let runs = 0;
for (const vector of VECTORS) {
  const api = apiOf(vector);
  Deno.test(`test vector through the gateway: ${vector.name}`, async (t) => {
    for (const [way, send] of Object.entries(WAYS[api])) {
      await t.step(way, () =>
        withVectorGateway(vector.usage, async (gateway) => {
          const seen = await send(gateway.url, vector.model);
          assert.deepEqual(seen.content, api === "embeddings" ? FAKE_EMBEDDING : TEXT);
          if (seen.header !== undefined) assert.equal(seen.header, vector.expected.cost_usd);
          await assertBilledAsVector(gateway, vector, api);
          runs++;
        }));
    }
  });
}

Deno.test("every published vector went through the gateway, each way its API allows", () => {
  const expected = VECTORS.reduce((n, v) => n + Object.keys(WAYS[apiOf(v)]).length, 0);
  assert.equal(runs, expected);
  assert.ok(VECTORS.length >= 35);
  console.log(`${VECTORS.length} test vectors, ${runs} gateway calls`);
});
