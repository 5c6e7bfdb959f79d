/**
 * POST /v1/responses driven by the official `openai` SDK (`client.responses.create`, plain and
 * streamed) against the fake upstream and the simulated model; GET and DELETE of a stored response
 * passed through unbilled; `background` refused. Costs are checked exactly: the header against
 * costOf, the counters against the same picodollars.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import {
  fakeProviders,
  startFakeUpstream,
  startGateway,
  TEXT_CHUNKS,
  UPSTREAM_KEY,
} from "../../helpers/fake_upstream.ts";
import { RESPONSES_USAGE } from "../../helpers/fake_answers.ts";
import { eventually, within } from "../../helpers/poll.ts";
import { withJsonFile } from "../../helpers/files.ts";
import { total } from "../../helpers/prom.ts";
import { costOf, embeddedPriceTable, type TokenUsage } from "../../../src/pricing/pricing.ts";
import { formatUsd, picoToUsd } from "../../../src/pricing/money.ts";
import { countChatTokens, tokenCounter } from "../../../src/tokens/count.ts";

const PRICES = embeddedPriceTable();
const LABELS = { model: "gpt-4o-mini", tenant: "team-chat" };
const INPUT = "Say hello.";
const TEXT = TEXT_CHUNKS.join("");

/** The fake's usage as the gateway reads it. */
const REPORTED: TokenUsage = {
  inputTokens: RESPONSES_USAGE.input_tokens,
  cachedInputTokens: RESPONSES_USAGE.input_tokens_details.cached_tokens,
  cacheWriteTokens: 0,
  outputTokens: RESPONSES_USAGE.output_tokens,
  reasoningTokens: RESPONSES_USAGE.output_tokens_details.reasoning_tokens,
};

function costPicoOf(model: string, usage: TokenUsage): bigint {
  return costOf(PRICES.resolve(model)!, usage).totalPico;
}

type Gateway = Awaited<ReturnType<typeof startGateway>>;

async function withGateway(
  fn: (
    ctx: { client: OpenAI; fake: ReturnType<typeof startFakeUpstream>; gateway: Gateway },
  ) => Promise<void>,
  env: Record<string, string> = {},
  providers?: (fake: ReturnType<typeof startFakeUpstream>) => unknown,
) {
  const fake = startFakeUpstream();
  const gateway = await startGateway(providers ? providers(fake) : fakeProviders(fake), env);
  const client = new OpenAI({
    apiKey: "client-key-of-team-chat",
    baseURL: `${gateway.url}/v1`,
    maxRetries: 0,
    defaultHeaders: { "x-tenant-id": "team-chat" },
  });
  try {
    await fn({ client, fake, gateway });
  } finally {
    await gateway.stop();
    await fake.stop();
  }
}

function requestSpan(gateway: Gateway) {
  return gateway.exporter.getFinishedSpans().find((s) => s.name === "inference_request")!;
}

async function assertBilled(gateway: Gateway, labels: Record<string, string>, pico: bigint) {
  const m = await gateway.metrics();
  assert.equal(total(m, "inference_cost_usd_total", labels), picoToUsd(pico));
  assert.equal(total(m, "inference_requests_total", { ...labels, status: "ok" }), 1);
}

Deno.test("responses.create is proxied as sent and priced from response.usage: cached input at its rate, reasoning once", async () => {
  await withGateway(async ({ client, fake, gateway }) => {
    const { data, response } = await client.responses.create({
      model: "gpt-4o-mini",
      input: INPUT,
      instructions: "Be terse.",
    }).withResponse();
    assert.equal(data.output_text, TEXT);
    assert.deepEqual(data.usage, RESPONSES_USAGE);
    const sent = fake.requests[0];
    assert.equal(sent.path, "/v1/responses");
    assert.deepEqual(sent.body, {
      model: "gpt-4o-mini-2024-07-18",
      input: INPUT,
      instructions: "Be terse.",
    });
    assert.equal(sent.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
    const pico = costPicoOf("gpt-4o-mini", REPORTED);
    assert.equal(response.headers.get("x-inference-cost-usd"), formatUsd(pico));
    await assertBilled(gateway, LABELS, pico);
    const m = await gateway.metrics();
    assert.equal(total(m, "inference_input_tokens_total", LABELS), REPORTED.inputTokens);
    assert.equal(total(m, "inference_cached_input_tokens_total", LABELS), 1024);
    assert.equal(total(m, "inference_output_tokens_total", LABELS), REPORTED.outputTokens);
    const span = requestSpan(gateway);
    assert.equal(span.attributes["gen_ai.operation.name"], "chat");
    assert.equal(span.attributes["gen_ai.provider.name"], "openai");
    assert.equal(span.attributes["gen_ai.usage.reasoning.output_tokens"], 100);
    assert.equal(span.attributes["inference.usage_source"], "provider");
    assert.equal(span.attributes["gen_ai.usage.cost.amount"], picoToUsd(pico));
    assert.equal(span.attributes["inference.price_tier"], "standard");
    const upstream = gateway.exporter.getFinishedSpans().find((s) =>
      s.name === "chat gpt-4o-mini-2024-07-18"
    );
    assert.equal(upstream?.attributes["gen_ai.usage.output_tokens"], REPORTED.outputTokens);
  });
});

Deno.test("a streamed response relays every event from response.created to response.completed and is priced from its usage, with no stream_options added", async () => {
  await withGateway(async ({ client, fake, gateway }) => {
    const stream = await client.responses.create({
      model: "gpt-4o-mini",
      input: INPUT,
      stream: true,
    });
    const types: string[] = [];
    let text = "";
    let usage: unknown;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
      if (event.type === "response.completed") usage = event.response.usage;
    }
    assert.equal(types[0], "response.created");
    assert.equal(types.at(-1), "response.completed");
    assert.equal(text, TEXT);
    assert.deepEqual(usage, RESPONSES_USAGE);
    assert.equal(fake.requests[0].body.stream, true);
    assert.equal("stream_options" in fake.requests[0].body, false);
    await assertBilled(gateway, LABELS, costPicoOf("gpt-4o-mini", REPORTED));
    const m = await gateway.metrics();
    assert.equal(
      total(m, "inference_time_to_first_token_seconds_count", { model: "gpt-4o-mini" }),
      1,
    );
  });
});

Deno.test("a client's own stream_options on a Responses request go upstream unchanged", async () => {
  await withGateway(async ({ fake, gateway }) => {
    const res = await fetch(`${gateway.url}/v1/responses`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "gpt-4o-mini",
        input: INPUT,
        stream: true,
        stream_options: { include_obfuscation: false },
      }),
    });
    await res.text();
    assert.deepEqual(fake.requests[0].body.stream_options, { include_obfuscation: false });
  });
});

Deno.test("the simulated model answers a Response, plain and streamed, with the usage it bills", async () => {
  await withGateway(async ({ client, gateway }) => {
    const { data, response } = await client.responses.create({
      model: "gpt-4.1",
      input: [{ role: "user", content: [{ type: "input_text", text: INPUT }] }],
    }).withResponse();
    assert.equal(data.status, "completed");
    assert.match(data.output_text, /^Response to: Say hello\./);
    const usage: TokenUsage = {
      inputTokens: data.usage!.input_tokens,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: data.usage!.output_tokens,
    };
    const o200k = tokenCounter("o200k_base");
    assert.equal(usage.inputTokens, countChatTokens(o200k, [{ role: "user", content: INPUT }]));
    assert.equal(usage.outputTokens, o200k.count(data.output_text));
    const pico = costPicoOf("gpt-4.1", usage);
    assert.equal(response.headers.get("x-inference-cost-usd"), formatUsd(pico));

    const stream = await client.responses.create({ model: "gpt-4.1", input: INPUT, stream: true });
    const numbers: number[] = [];
    let completed: OpenAI.Responses.Response | undefined;
    let text = "";
    for await (const event of stream) {
      numbers.push(event.sequence_number);
      if (event.type === "response.output_text.delta") text += event.delta;
      if (event.type === "response.completed") completed = event.response;
    }
    assert.deepEqual(numbers, numbers.map((_, i) => i), "sequence numbers count from 0");
    const item = completed?.output[0] as OpenAI.Responses.ResponseOutputMessage | undefined;
    assert.deepEqual(item?.content.map((part) => "text" in part && part.text), [text]);
    assert.equal(text, data.output_text);
    const m = await gateway.metrics();
    const labels = { model: "gpt-4.1", tenant: "team-chat" };
    assert.equal(total(m, "inference_requests_total", { ...labels, status: "ok" }), 2);
    assert.equal(total(m, "inference_cost_usd_total", labels), picoToUsd(2n * pico));
    const spans = gateway.exporter.getFinishedSpans().filter((s) => s.name === "inference_request");
    assert.deepEqual(spans.map((s) => s.attributes["inference.usage_source"]), [
      "estimated",
      "estimated",
    ]);
  });
});

Deno.test("background: true is refused with 400 invalid_request before anything is sent", async () => {
  await withGateway(async ({ client, fake, gateway }) => {
    const error = await client.responses.create({
      model: "gpt-4o-mini",
      input: INPUT,
      background: true,
    }).catch((e) => e);
    assert.ok(error instanceof OpenAI.BadRequestError);
    assert.equal(error.type, "invalid_request");
    assert.equal(error.param, "background");
    assert.match(error.message, /billed/);
    assert.equal(fake.requests.length, 0);
    const m = await gateway.metrics();
    assert.equal(total(m, "inference_requests_total", { status: "bad_request" }), 1);
    assert.equal(total(m, "inference_cost_usd_total"), 0);
  });
});

Deno.test("a model served over the Messages API is refused on /v1/responses with 400 protocol_mismatch", async () => {
  await withGateway(async ({ client, fake }) => {
    const error = await client.responses.create({ model: "claude-3.5-sonnet", input: INPUT })
      .catch((e) => e);
    assert.ok(error instanceof OpenAI.BadRequestError);
    assert.equal(error.type, "protocol_mismatch");
    assert.match(error.message, /POST \/v1\/messages/);
    assert.equal(fake.requests.length, 0);
  });
});

Deno.test("a client that leaves a streamed response is billed its prompt and the text streamed so far", async () => {
  await withGateway(async ({ client, fake, gateway }) => {
    fake.behaviour = { mode: "stall", chunks: 2 };
    const stream = await client.responses.create({
      model: "gpt-4o-mini",
      input: INPUT,
      stream: true,
    });
    let received = "";
    for await (const event of stream) {
      if (event.type === "response.output_text.delta") received += event.delta;
      if (received === TEXT_CHUNKS.slice(0, 2).join("")) break;
    }
    const closed = { ...LABELS, status: "client_closed" };
    await eventually(
      "the request is recorded as client_closed",
      within(5_000),
      async () => total(await gateway.metrics(), "inference_requests_total", closed) === 1,
    );
    const o200k = tokenCounter("o200k_base");
    const usage: TokenUsage = {
      inputTokens: countChatTokens(o200k, [{ role: "user", content: INPUT }]),
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: o200k.count(received),
    };
    const m = await gateway.metrics();
    assert.equal(total(m, "inference_output_tokens_total", LABELS), usage.outputTokens);
    assert.equal(
      total(m, "inference_cost_usd_total", LABELS),
      picoToUsd(costPicoOf("gpt-4o-mini", usage)),
    );
    await eventually("the upstream request is abandoned", within(5_000), () => fake.aborted === 1);
  });
});

for (
  const [what, model, provider, mode] of [
    ["drops the connection", "gpt-4.1-mini", "dropping-openai", "ok"],
    ["ends without response.completed", "gpt-4o-mini", "openai", "truncate"],
  ] as const
) {
  Deno.test(`an upstream Responses stream that ${what} ends with an error event the SDK raises, billed as far as it got`, async () => {
    await withGateway(async ({ client, fake, gateway }) => {
      fake.behaviour = { mode, chunks: 3 };
      const stream = await client.responses.create({ model, input: INPUT, stream: true });
      let received = "";
      const error = await (async () => {
        for await (const event of stream) {
          if (event.type === "response.output_text.delta") received += event.delta;
        }
      })().catch((e) => e);
      assert.ok(error instanceof OpenAI.APIError, String(error));
      assert.equal(received, TEXT_CHUNKS.slice(0, 3).join(""));
      const labels = { model, tenant: "team-chat" };
      const m = await gateway.metrics();
      assert.equal(
        total(m, "inference_requests_total", { ...labels, status: "upstream_error" }),
        1,
      );
      assert.equal(
        total(m, "inference_upstream_errors_total", { provider, kind: "mid_stream" }),
        1,
      );
      assert.equal(
        total(m, "inference_output_tokens_total", labels),
        tokenCounter("o200k_base").count(received),
      );
    });
  });
}

Deno.test("GET and DELETE /v1/responses/{id} pass through to the provider named in x-inference-provider, unbilled", async () => {
  await withGateway(async ({ client, fake, gateway }) => {
    const options = { headers: { "x-inference-provider": "openai" } };
    const stored = await client.responses.retrieve("resp_abc123", {}, options);
    assert.equal(stored.id, "resp_abc123");
    assert.equal(stored.output_text, TEXT);
    const deleted = await client.responses.delete("resp_abc123", options)
      .asResponse();
    assert.equal(deleted.status, 200);
    assert.deepEqual(await deleted.json(), {
      id: "resp_abc123",
      object: "response",
      deleted: true,
    });
    assert.deepEqual(fake.requests.map((r) => [r.method, r.path]), [
      ["GET", "/v1/responses/resp_abc123"],
      ["DELETE", "/v1/responses/resp_abc123"],
    ]);
    assert.equal(fake.requests[0].headers.authorization, `Bearer ${UPSTREAM_KEY}`);
    const m = await gateway.metrics();
    assert.equal(total(m, "inference_requests_total"), 0, "nothing is counted as inference");
    assert.equal(total(m, "inference_cost_usd_total"), 0);
    const upstream = gateway.exporter.getFinishedSpans().map((s) => s.name);
    assert.deepEqual(upstream, ["retrieve_response resp_abc123", "delete_response resp_abc123"]);
  });
});

Deno.test("a stored response goes to the only openai-protocol provider when none is named", async () => {
  await withGateway(
    async ({ client, fake }) => {
      const stored = await client.responses.retrieve("resp_1");
      assert.equal(stored.id, "resp_1");
      assert.equal(fake.requests[0].path, "/v1/responses/resp_1");
    },
    {},
    (fake) => ({
      providers: [{
        name: "only",
        protocol: "openai",
        base_url: fake.openAiBaseUrl,
        models: ["gpt-5"],
      }],
    }),
  );
});

Deno.test("a stored response with no provider to ask is refused: ambiguous, unknown or simulated", async () => {
  await withGateway(async ({ client, fake }) => {
    const ambiguous = await client.responses.retrieve("resp_1").catch((e) => e);
    assert.ok(ambiguous instanceof OpenAI.BadRequestError);
    assert.equal(ambiguous.param, "x-inference-provider");
    assert.match(ambiguous.message, /openai, dropping-openai/);
    const unknown = await client.responses.retrieve("resp_1", {}, {
      headers: { "x-inference-provider": "anthropic" },
    }).catch((e) => e);
    assert.ok(unknown instanceof OpenAI.BadRequestError);
    assert.equal(fake.requests.length, 0);
  });
  await withGateway(
    async ({ client }) => {
      const missing = await client.responses.retrieve("resp_1").catch((e) => e);
      assert.ok(missing instanceof OpenAI.NotFoundError);
      assert.match(missing.message, /simulated model are not stored/);
    },
    {},
    () => ({ unrouted_models: "simulated", providers: [] }),
  );
});

Deno.test("a provider's 404 for a stored response is passed on", async () => {
  await withGateway(async ({ client, fake }) => {
    fake.behaviour = {
      mode: "status",
      status: 404,
      errorBody: {
        error: { message: "No response found with id 'resp_x'.", type: "invalid_request_error" },
      },
    };
    const error = await client.responses.retrieve("resp_x", {}, {
      headers: { "x-inference-provider": "openai" },
    }).catch((e) => e);
    assert.ok(error instanceof OpenAI.NotFoundError);
    assert.equal(error.type, "invalid_request_error");
    assert.match(error.message, /No response found/);
  });
});

Deno.test("a tenant with no budget left gets 429 budget_exceeded on POST, a stream, GET and DELETE of /v1/responses", async () => {
  const tenants = {
    tenants: [
      { id: "default", hourly_alert_threshold_usd: 25 },
      { id: "team-chat", hourly_alert_threshold_usd: 100, budgets: { hour: "0" } },
    ],
  };
  await withJsonFile(tenants, (path) =>
    withGateway(async ({ client, fake }) => {
      const headers = { "x-inference-provider": "openai" };
      const attempts = [
        client.responses.create({ model: "gpt-4o-mini", input: INPUT }),
        client.responses.create({ model: "gpt-4o-mini", input: INPUT, stream: true }),
        client.responses.create({ model: "gpt-4.1", input: INPUT }),
        client.responses.retrieve("resp_1", {}, { headers }),
        client.responses.delete("resp_1", { headers }),
      ];
      for (const attempt of attempts) {
        const error = await attempt.catch((e) => e);
        assert.ok(error instanceof OpenAI.RateLimitError, String(error));
        assert.equal(error.type, "budget_exceeded");
        assert.ok(Number(error.headers.get("retry-after")) >= 1);
      }
      assert.equal(fake.requests.length, 0);
    }, { TENANTS_FILE: path }));
});

Deno.test("a requested service tier narrows the worst case: flex fits a budget that the dearest tier would not", async () => {
  // gpt-5, 1,000 output tokens: a flex request reserves the standard rates' $0.01 (flex may
  // still be served at standard), an unnamed one priority's $0.02; the budget is $0.015.
  const tenants = {
    tenants: [
      { id: "default", hourly_alert_threshold_usd: 25 },
      { id: "team-chat", hourly_alert_threshold_usd: 100, budgets: { hour: "0.015" } },
    ],
  };
  await withJsonFile(tenants, (path) =>
    withGateway(async ({ client, gateway }) => {
      const request = { model: "gpt-5", input: INPUT, max_output_tokens: 1000 };
      const unnamed = await client.responses.create(request).catch((e) => e);
      assert.ok(unnamed instanceof OpenAI.RateLimitError, String(unnamed));
      assert.equal(unnamed.type, "budget_exceeded");
      const chat = await client.chat.completions.create({
        model: "gpt-5",
        messages: [{ role: "user", content: INPUT }],
        max_completion_tokens: 1000,
      }).catch((e) => e);
      assert.ok(chat instanceof OpenAI.RateLimitError, "chat completions reserve the same way");
      const flex = await client.responses.create({ ...request, service_tier: "flex" });
      assert.equal(flex.status, "completed");
      const flexChat = await client.chat.completions.create({
        model: "gpt-5",
        messages: [{ role: "user", content: INPUT }],
        max_completion_tokens: 1000,
        service_tier: "flex",
      });
      assert.ok(flexChat.choices[0].message.content);
      const m = await gateway.metrics();
      const labels = { model: "gpt-5", tenant: "team-chat" };
      assert.equal(total(m, "inference_requests_total", { ...labels, status: "ok" }), 2);
      assert.equal(
        total(m, "inference_requests_total", { ...labels, status: "budget_exceeded" }),
        2,
      );
    }, { TENANTS_FILE: path }));
});
