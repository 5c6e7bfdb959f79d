/**
 * POST /v1/embeddings driven by the official `openai` SDK (`client.embeddings.create`, float and
 * base64) against the fake upstream and the simulated model: the provider's vectors reach the
 * client, the cost is usage.prompt_tokens at the input rate (header, counter, span), and the
 * simulated vectors are deterministic, unit length, of the model's size, in either encoding.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import {
  fakeProviders,
  startFakeUpstream,
  startGateway,
  UPSTREAM_KEY,
} from "../../helpers/fake_upstream.ts";
import { EMBEDDINGS_USAGE, FAKE_EMBEDDING } from "../../helpers/fake_answers.ts";
import { withJsonFile } from "../../helpers/files.ts";
import { total } from "../../helpers/prom.ts";
import { costOf, embeddedPriceTable } from "../../../src/pricing/pricing.ts";
import { formatUsd, picoToUsd } from "../../../src/pricing/money.ts";
import { tokenCounter } from "../../../src/tokens/count.ts";

const PRICES = embeddedPriceTable();
const TENANT = "team-search";

type Gateway = Awaited<ReturnType<typeof startGateway>>;

async function withGateway(
  fn: (
    ctx: { client: OpenAI; fake: ReturnType<typeof startFakeUpstream>; gateway: Gateway },
  ) => Promise<void>,
  env: Record<string, string> = {},
) {
  const fake = startFakeUpstream();
  const gateway = await startGateway(
    fakeProviders(fake, [{
      name: "embedder",
      protocol: "openai",
      base_url: fake.openAiBaseUrl,
      api_key_env: "FAKE_UPSTREAM_KEY",
      models: { "text-embedding-3-large": "text-embedding-3-large" },
    }]),
    env,
  );
  const client = new OpenAI({
    apiKey: "client-key",
    baseURL: `${gateway.url}/v1`,
    maxRetries: 0,
    defaultHeaders: { "x-tenant-id": TENANT },
  });
  try {
    await fn({ client, fake, gateway });
  } finally {
    await gateway.stop();
    await fake.stop();
  }
}

function pico(model: string, inputTokens: number): bigint {
  return costOf(PRICES.resolve(model)!, {
    inputTokens,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: 0,
  }).totalPico;
}

function requestSpan(gateway: Gateway) {
  return gateway.exporter.getFinishedSpans().find((s) => s.name === "inference_request")!;
}

function norm(vector: readonly number[]): number {
  return Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0));
}

Deno.test("embeddings are proxied, float and base64, and priced from usage.prompt_tokens at the input rate", async () => {
  await withGateway(async ({ client, fake, gateway }) => {
    const { data: floats, response } = await client.embeddings.create({
      model: "text-embedding-3-large",
      input: ["first text", "second text"],
      encoding_format: "float",
    }).withResponse();
    assert.deepEqual(floats.data.map((d) => d.embedding), [FAKE_EMBEDDING, FAKE_EMBEDDING]);
    assert.deepEqual(floats.usage, EMBEDDINGS_USAGE);
    const cost = pico("text-embedding-3-large", EMBEDDINGS_USAGE.prompt_tokens);
    assert.equal(response.headers.get("x-inference-cost-usd"), formatUsd(cost));

    // Without encoding_format the SDK asks for base64 and decodes it itself.
    const decoded = await client.embeddings.create({
      model: "text-embedding-3-large",
      input: "third text",
    });
    assert.deepEqual(decoded.data[0].embedding, FAKE_EMBEDDING);
    assert.deepEqual(fake.requests.map((r) => [r.path, r.body.encoding_format]), [
      ["/v1/embeddings", "float"],
      ["/v1/embeddings", "base64"],
    ]);
    assert.equal(fake.requests[0].headers.authorization, `Bearer ${UPSTREAM_KEY}`);

    const labels = { model: "text-embedding-3-large", tenant: TENANT };
    const m = await gateway.metrics();
    assert.equal(total(m, "inference_cost_usd_total", labels), picoToUsd(2n * cost));
    assert.equal(total(m, "inference_input_tokens_total", labels), 16);
    assert.equal(total(m, "inference_output_tokens_total", labels), 0);
    assert.equal(total(m, "inference_requests_total", { ...labels, status: "ok" }), 2);
    const span = requestSpan(gateway);
    assert.equal(span.attributes["gen_ai.operation.name"], "embeddings");
    assert.equal(span.attributes["gen_ai.provider.name"], "embedder");
    assert.equal(span.attributes["inference.usage_source"], "provider");
    assert.equal(span.attributes["gen_ai.usage.cost.amount"], picoToUsd(cost));
    const upstream = gateway.exporter.getFinishedSpans().find((s) => s.kind === 2);
    assert.equal(upstream?.name, "embeddings text-embedding-3-large");
    assert.equal(upstream?.attributes["gen_ai.operation.name"], "embeddings");
  });
});

Deno.test("the simulated model embeds deterministically: unit vectors of the model's size, the same numbers in float and base64", async () => {
  await withGateway(async ({ client, gateway }) => {
    const input = ["Explain transformers", "in 3 sentences"];
    const { data: floats, response } = await client.embeddings.create({
      model: "text-embedding-3-small",
      input,
      encoding_format: "float",
    }).withResponse();
    const raw = await client.embeddings.create({
      model: "text-embedding-3-small",
      input,
      encoding_format: "base64",
    });
    const decoded = await client.embeddings.create({ model: "text-embedding-3-small", input });
    assert.equal(floats.data.length, 2);
    for (const [i, item] of floats.data.entries()) {
      assert.equal(item.index, i);
      assert.equal(item.embedding.length, 1536);
      assert.ok(Math.abs(norm(item.embedding) - 1) < 1e-6);
      assert.deepEqual(decoded.data[i].embedding, item.embedding);
      const bytes = Uint8Array.from(
        atob(raw.data[i].embedding as unknown as string),
        (c) => c.charCodeAt(0),
      );
      assert.deepEqual(Array.from(new Float32Array(bytes.buffer)), item.embedding);
    }
    assert.notDeepEqual(floats.data[0].embedding, floats.data[1].embedding);
    const again = await client.embeddings.create({
      model: "text-embedding-3-small",
      input: input[1],
      encoding_format: "float",
    });
    assert.deepEqual(again.data[0].embedding, floats.data[1].embedding, "same input, same vector");

    const tokens = input.reduce((n, text) => n + tokenCounter("cl100k_base").count(text), 0);
    assert.deepEqual(floats.usage, { prompt_tokens: tokens, total_tokens: tokens });
    const cost = pico("text-embedding-3-small", tokens);
    assert.equal(response.headers.get("x-inference-cost-usd"), formatUsd(cost));
    const labels = { model: "text-embedding-3-small", tenant: TENANT };
    const m = await gateway.metrics();
    const again1 = pico("text-embedding-3-small", tokenCounter("cl100k_base").count(input[1]));
    // Four exact costs summed as floats: equal to float rounding.
    const summed = total(m, "inference_cost_usd_total", labels);
    assert.ok(Math.abs(summed - picoToUsd(3n * cost + again1)) < 1e-18, String(summed));
    assert.equal(requestSpan(gateway).attributes["inference.usage_source"], "estimated");

    const large = await client.embeddings.create({
      model: "text-embedding-3-large",
      input: "x",
      encoding_format: "float",
    }).catch((e) => e);
    assert.ok(!(large instanceof Error), "the large model is routed to the fake");
  });
});

Deno.test("the simulated model honours dimensions up to the model's size and token-id inputs", async () => {
  await withGateway(async ({ client }) => {
    const short = await client.embeddings.create({
      model: "text-embedding-3-small",
      input: [[1, 2, 3], [4, 5]],
      dimensions: 256,
      encoding_format: "float",
    });
    assert.deepEqual(short.data.map((d) => d.embedding.length), [256, 256]);
    assert.ok(Math.abs(norm(short.data[0].embedding) - 1) < 1e-6);
    assert.equal(short.usage.prompt_tokens, 5, "token ids count one token each");
    const tooMany = await client.embeddings.create({
      model: "text-embedding-3-small",
      input: "x",
      dimensions: 1537,
    }).catch((e) => e);
    assert.ok(tooMany instanceof OpenAI.BadRequestError);
    assert.equal(tooMany.param, "dimensions");
  });
});

Deno.test("a chat model is refused by the simulated embeddings, and an Anthropic-served model by protocol_mismatch", async () => {
  await withGateway(async ({ client, fake }) => {
    const chat = await client.embeddings.create({ model: "gpt-4.1", input: "x" }).catch((e) => e);
    assert.ok(chat instanceof OpenAI.BadRequestError);
    assert.equal(chat.param, "model");
    const claude = await client.embeddings.create({ model: "claude-3.5-sonnet", input: "x" })
      .catch((e) => e);
    assert.ok(claude instanceof OpenAI.BadRequestError);
    assert.equal(claude.type, "protocol_mismatch");
    assert.equal(fake.requests.length, 0);
  });
});

Deno.test("a tenant whose budget cannot cover the input gets 429 budget_exceeded on /v1/embeddings", async () => {
  const tenants = {
    tenants: [
      { id: "default", hourly_alert_threshold_usd: 25 },
      { id: TENANT, hourly_alert_threshold_usd: 100, budgets: { day: "0" } },
    ],
  };
  await withJsonFile(tenants, (path) =>
    withGateway(async ({ client, fake, gateway }) => {
      for (const model of ["text-embedding-3-large", "text-embedding-3-small"]) {
        const error = await client.embeddings.create({ model, input: "x" }).catch((e) => e);
        assert.ok(error instanceof OpenAI.RateLimitError, String(error));
        assert.equal(error.type, "budget_exceeded");
      }
      assert.equal(fake.requests.length, 0);
      const m = await gateway.metrics();
      assert.equal(total(m, "inference_requests_total", { status: "budget_exceeded" }), 2);
      assert.equal(total(m, "inference_cost_usd_total"), 0);
    }, { TENANTS_FILE: path }));
});
