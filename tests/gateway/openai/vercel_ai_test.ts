/**
 * The Vercel AI SDK's default OpenAI provider (`@ai-sdk/openai`, which calls the Responses API)
 * with only its base URL changed, answered by the simulated model: `generateText` and `streamText`
 * get the text, the usage the SDK reports is the usage billed, and the cost header is exact. (The
 * same SDK against a provider, for every published test vector: tests/gateway/vectors_test.ts.)
 */
import assert from "node:assert/strict";
import { generateText, streamText } from "ai";
import { createOpenAI } from "@ai-sdk/openai";
import { testApp } from "../../helpers/app.ts";
import { total } from "../../helpers/prom.ts";
import { costOf, embeddedPriceTable } from "../../../src/pricing/pricing.ts";
import { formatUsd, picoToUsd } from "../../../src/pricing/money.ts";

const PRICE = embeddedPriceTable().resolve("gpt-4o-mini")!;
const LABELS = { model: "gpt-4o-mini", tenant: "team-search" };

async function withServer(fn: (url: string, t: ReturnType<typeof testApp>) => Promise<void>) {
  const t = testApp();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, t.app.fetch);
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, t);
  } finally {
    await server.shutdown();
  }
}

function provider(url: string) {
  return createOpenAI({
    baseURL: `${url}/v1`,
    apiKey: "client-key",
    headers: { "x-tenant-id": "team-search" },
  });
}

Deno.test("generateText with openai('gpt-4o-mini') is answered and billed the usage the SDK reports", async () => {
  await withServer(async (url, t) => {
    const result = await generateText({
      model: provider(url)("gpt-4o-mini"),
      prompt: "Explain transformers in 3 sentences",
      maxRetries: 0,
    });
    assert.match(result.text, /^Response to: Explain transformers in 3 sentences/);
    const usage = {
      inputTokens: result.usage.inputTokens!,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: result.usage.outputTokens!,
    };
    assert.ok(usage.inputTokens > 0 && usage.outputTokens > 0);
    const pico = costOf(PRICE, usage).totalPico;
    assert.equal(result.response.headers?.["x-inference-cost-usd"], formatUsd(pico));
    const m = await t.metrics();
    assert.equal(total(m, "inference_cost_usd_total", LABELS), picoToUsd(pico));
    assert.equal(total(m, "inference_input_tokens_total", LABELS), usage.inputTokens);
    assert.equal(total(m, "inference_output_tokens_total", LABELS), usage.outputTokens);
  });
});

Deno.test("streamText with openai('gpt-4o-mini') streams the simulated text and is billed once", async () => {
  await withServer(async (url, t) => {
    const result = streamText({
      model: provider(url)("gpt-4o-mini"),
      prompt: "Explain transformers in 3 sentences",
      maxRetries: 0,
    });
    let text = "";
    for await (const delta of result.textStream) text += delta;
    assert.match(text, /^Response to: Explain transformers in 3 sentences/);
    const usage = await result.usage;
    const pico = costOf(PRICE, {
      inputTokens: usage.inputTokens!,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: usage.outputTokens!,
    }).totalPico;
    const m = await t.metrics();
    assert.equal(total(m, "inference_requests_total", { ...LABELS, status: "ok" }), 1);
    assert.equal(total(m, "inference_cost_usd_total", LABELS), picoToUsd(pico));
  });
});
