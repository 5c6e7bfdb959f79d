/**
 * The OpenAI-compatible gateway driven by the official `openai` SDK against a fake upstream whose
 * usage is known: every figure in /metrics must equal that usage × the price, exactly (relative
 * 1e-9, float rounding only).
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import {
  fakeProviders,
  OPENAI_USAGE,
  startFakeUpstream,
  startGateway,
  TEXT_CHUNKS,
  UPSTREAM_KEY,
} from "../../helpers/fake_upstream.ts";
import { eventually, within } from "../../helpers/poll.ts";
import { type Exposition, find, parseExposition, total } from "../../helpers/prom.ts";
import { countChatTokens, tokenCounter } from "../../../src/tokens/count.ts";

// gpt-4o-mini list prices, USD per 1M tokens: input, cached input, output.
const MINI = { input: 0.15, cached: 0.075, output: 0.6 };
const LABELS = { model: "gpt-4o-mini", tenant: "team-chat" };
const MESSAGES = [
  { role: "system" as const, content: "You are terse." },
  { role: "user" as const, content: "Say hello." },
];

function assertClose(actual: number, expected: number, what: string) {
  const relative = Math.abs(actual - expected) / Math.abs(expected);
  assert.ok(relative <= 1e-9, `${what}: ${actual} is not ${expected}`);
}

/** The cost of the fake's reported usage: uncached input, cached input and output at their rates. */
function reportedCost(): number {
  const { prompt_tokens, completion_tokens, prompt_tokens_details } = OPENAI_USAGE;
  const cached = prompt_tokens_details.cached_tokens;
  return ((prompt_tokens - cached) * MINI.input + cached * MINI.cached +
    completion_tokens * MINI.output) / 1e6;
}

function assertReportedUsage(m: Exposition) {
  assert.equal(total(m, "inference_input_tokens_total", LABELS), OPENAI_USAGE.prompt_tokens);
  assert.equal(
    total(m, "inference_cached_input_tokens_total", LABELS),
    OPENAI_USAGE.prompt_tokens_details.cached_tokens,
  );
  // Reasoning tokens are inside completion_tokens: counted once.
  assert.equal(total(m, "inference_output_tokens_total", LABELS), OPENAI_USAGE.completion_tokens);
  assertClose(total(m, "inference_cost_usd_total", LABELS), reportedCost(), "cost");
}

/** Input tokens the gateway estimates for MESSAGES (OpenAI's chat format, o200k_base). */
function promptEstimate(): number {
  return countChatTokens(tokenCounter("o200k_base"), MESSAGES);
}

async function withGateway(
  fn: (ctx: {
    client: OpenAI;
    fake: ReturnType<typeof startFakeUpstream>;
    gateway: Awaited<ReturnType<typeof startGateway>>;
  }) => Promise<void>,
  env: Record<string, string> = {},
  extraProviders: unknown[] = [],
) {
  const fake = startFakeUpstream();
  const gateway = await startGateway(fakeProviders(fake, extraProviders), env);
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

function usageSourceOf(
  gateway: {
    exporter: { getFinishedSpans(): { name: string; attributes: Record<string, unknown> }[] };
  },
) {
  const span = gateway.exporter.getFinishedSpans().find((s) => s.name === "inference_request");
  return span?.attributes["inference.usage_source"];
}

Deno.test("a plain completion is priced from the provider's usage, cached tokens at their own rate", async () => {
  await withGateway(async ({ client, fake, gateway }) => {
    const completion = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
    });
    assert.equal(completion.choices[0].message.content, TEXT_CHUNKS.join(""));
    assert.deepEqual(completion.usage, OPENAI_USAGE);
    assert.equal(fake.requests[0].body.model, "gpt-4o-mini-2024-07-18");
    const m = await gateway.metrics();
    assertReportedUsage(m);
    assert.equal(total(m, "inference_requests_total", { ...LABELS, status: "ok" }), 1);
    assert.equal(usageSourceOf(gateway), "provider");
  });
});

Deno.test("a stream with include_usage passes the provider's usage chunk through and is priced from it", async () => {
  await withGateway(async ({ client, gateway }) => {
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    const usages = [];
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      if (chunk.usage) usages.push(chunk.usage);
    }
    assert.equal(text, TEXT_CHUNKS.join(""));
    assert.deepEqual(usages, [OPENAI_USAGE]);
    const m = await gateway.metrics();
    assertReportedUsage(m);
    assert.equal(
      total(m, "inference_time_to_first_token_seconds_count", { model: "gpt-4o-mini" }),
      1,
    );
    assert.equal(usageSourceOf(gateway), "provider");
  });
});

Deno.test("a stream without include_usage asks upstream for usage and strips it from the client's stream", async () => {
  await withGateway(async ({ client, fake, gateway }) => {
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.deepEqual(
      chunks.filter((c) => "usage" in c),
      [],
      "no chunk reaches the client with a usage field",
    );
    assert.equal(chunks.filter((c) => c.choices.length === 0).length, 0);
    assert.equal(
      chunks.map((c) => c.choices[0].delta?.content ?? "").join(""),
      TEXT_CHUNKS.join(""),
    );
    assert.deepEqual(fake.requests[0].body.stream_options, { include_usage: true });
    assertReportedUsage(await gateway.metrics());
    assert.equal(usageSourceOf(gateway), "provider");
  });
});

Deno.test("a stream whose upstream reports no usage is counted locally and marked estimated", async () => {
  await withGateway(async ({ client, fake, gateway }) => {
    fake.behaviour = { mode: "ok", usageInStream: false };
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const _ of stream) { /* drain */ }
    const m = await gateway.metrics();
    const output = tokenCounter("o200k_base").count(TEXT_CHUNKS.join(""));
    assert.equal(total(m, "inference_input_tokens_total", LABELS), promptEstimate());
    assert.equal(total(m, "inference_output_tokens_total", LABELS), output);
    assertClose(
      total(m, "inference_cost_usd_total", LABELS),
      (promptEstimate() * MINI.input + output * MINI.output) / 1e6,
      "cost",
    );
    assert.equal(usageSourceOf(gateway), "estimated");
  });
});

Deno.test("a client that aborts mid-stream is billed for its prompt and the text streamed so far, as client_closed", async () => {
  await withGateway(async ({ client, fake, gateway }) => {
    fake.behaviour = { mode: "stall", chunks: 2 };
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
    });
    let received = "";
    for await (const chunk of stream) {
      received += chunk.choices[0]?.delta?.content ?? "";
      if (received === TEXT_CHUNKS.slice(0, 2).join("")) break; // the SDK aborts the request
    }
    const closed = { ...LABELS, status: "client_closed" };
    let m = await gateway.metrics();
    await eventually("the request is recorded as client_closed", within(5_000), async () => {
      m = await gateway.metrics();
      return total(m, "inference_requests_total", closed) === 1;
    });
    const output = tokenCounter("o200k_base").count(received);
    assert.equal(total(m, "inference_input_tokens_total", LABELS), promptEstimate());
    assert.equal(total(m, "inference_output_tokens_total", LABELS), output);
    assertClose(
      total(m, "inference_cost_usd_total", LABELS),
      (promptEstimate() * MINI.input + output * MINI.output) / 1e6,
      "cost",
    );
    await eventually(
      "the gateway abandons the upstream request",
      within(5_000),
      () => fake.aborted === 1,
    );
    assert.equal(total(m, "inference_upstream_errors_total"), 0);
  });
});

for (
  const [what, model, provider, mode] of [
    ["drops the connection mid-stream", "gpt-4.1-mini", "dropping-openai", "ok"],
    ["ends its stream without [DONE]", "gpt-4o-mini", "openai", "truncate"],
  ] as const
) {
  Deno.test(`an upstream that ${what} ends the client's stream with an error and bills what was streamed`, async () => {
    await withGateway(async ({ client, fake, gateway }) => {
      fake.behaviour = { mode, chunks: 3 };
      const stream = await client.chat.completions.create({
        model,
        messages: MESSAGES,
        stream: true,
      });
      let received = "";
      await assert.rejects(
        async () => {
          for await (const chunk of stream) received += chunk.choices[0]?.delta?.content ?? "";
        },
        OpenAI.APIError,
      );
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
      assert.equal(total(m, "inference_input_tokens_total", labels), promptEstimate());
      assert.equal(
        total(m, "inference_output_tokens_total", labels),
        tokenCounter("o200k_base").count(received),
      );
    });
  });
}

Deno.test("an upstream 4xx is passed through with its status and OpenAI error fields", async () => {
  await withGateway(async ({ client, fake, gateway }) => {
    fake.behaviour = {
      mode: "status",
      status: 400,
      errorBody: {
        error: {
          message: "temperature is out of range",
          type: "invalid_request_error",
          param: "temperature",
          code: "invalid_value",
        },
      },
    };
    const error = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      temperature: 3,
    }).catch((e) => e);
    assert.ok(error instanceof OpenAI.BadRequestError);
    assert.equal(error.status, 400);
    assert.equal(error.type, "invalid_request_error");
    assert.equal(error.param, "temperature");
    assert.equal(error.code, "invalid_value");
    assert.match(error.message, /temperature is out of range/);
    const m = await gateway.metrics();
    assert.equal(
      total(m, "inference_upstream_errors_total", { provider: "openai", kind: "status_4xx" }),
      1,
    );
    assert.equal(total(m, "inference_requests_total", { ...LABELS, status: "bad_request" }), 1);
    assert.equal(total(m, "inference_cost_usd_total"), 0);
  });
});

Deno.test("an upstream 429 is passed through with its Retry-After", async () => {
  await withGateway(async ({ client, fake }) => {
    fake.behaviour = {
      mode: "status",
      status: 429,
      headers: { "retry-after": "7" },
      errorBody: { error: { message: "slow down", type: "requests", code: "rate_limit_exceeded" } },
    };
    const error = await client.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES })
      .catch((e) => e);
    assert.ok(error instanceof OpenAI.RateLimitError);
    assert.equal(error.headers.get("retry-after"), "7");
    assert.equal(error.code, "rate_limit_exceeded");
  });
});

Deno.test("an upstream 5xx answers 502 upstream_error and is counted as status_5xx", async () => {
  await withGateway(async ({ client, fake, gateway }) => {
    fake.behaviour = { mode: "status", status: 503, errorBody: { error: { message: "down" } } };
    const error = await client.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES })
      .catch((e) => e);
    assert.ok(error instanceof OpenAI.InternalServerError);
    assert.equal(error.status, 502);
    assert.equal(error.type, "upstream_error");
    const m = await gateway.metrics();
    assert.equal(
      total(m, "inference_upstream_errors_total", { provider: "openai", kind: "status_5xx" }),
      1,
    );
    assert.equal(total(m, "inference_requests_total", { ...LABELS, status: "upstream_error" }), 1);
  });
});

Deno.test("an upstream slower than UPSTREAM_TIMEOUT_MS answers 504 upstream_timeout", async () => {
  await withGateway(async ({ client, fake, gateway }) => {
    fake.behaviour = { mode: "hang" };
    const error = await client.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES })
      .catch((e) => e);
    assert.ok(error instanceof OpenAI.APIError);
    assert.equal(error.status, 504);
    assert.equal(error.type, "upstream_timeout");
    const m = await gateway.metrics();
    assert.equal(
      total(m, "inference_upstream_errors_total", { provider: "openai", kind: "timeout" }),
      1,
    );
    assert.equal(total(m, "inference_requests_total", { ...LABELS, status: "timeout" }), 1);
    await eventually("the upstream request is abandoned", within(5_000), () => fake.aborted === 1);
  }, { UPSTREAM_TIMEOUT_MS: "150" });
});

Deno.test("an unreachable upstream answers 502 upstream_error and is counted as connect", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  await withGateway(
    async ({ client, gateway }) => {
      const error = await client.chat.completions.create({ model: "gpt-4.1", messages: MESSAGES })
        .catch((e) => e);
      assert.ok(error instanceof OpenAI.APIError);
      assert.equal(error.status, 502);
      assert.equal(error.type, "upstream_error");
      const m = await gateway.metrics();
      assert.equal(
        total(m, "inference_upstream_errors_total", { provider: "nowhere", kind: "connect" }),
        1,
      );
    },
    {},
    [{
      name: "nowhere",
      protocol: "openai",
      base_url: `http://127.0.0.1:${port}/v1`,
      models: ["gpt-4.1"],
    }],
  );
});

Deno.test("a stream request answered with JSON is a protocol error, counted as such", async () => {
  await withGateway(async ({ client, fake, gateway }) => {
    fake.behaviour = { mode: "json" };
    const error = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
    }).catch((e) => e);
    assert.ok(error instanceof OpenAI.APIError);
    assert.equal(error.status, 502);
    const m = await gateway.metrics();
    assert.equal(
      total(m, "inference_upstream_errors_total", { provider: "openai", kind: "protocol" }),
      1,
    );
  });
});

Deno.test("a model served over the Messages API is refused on chat completions with 400 protocol_mismatch", async () => {
  await withGateway(async ({ client, fake }) => {
    const error = await client.chat.completions.create({
      model: "claude-3.5-sonnet",
      messages: MESSAGES,
    }).catch((e) => e);
    assert.ok(error instanceof OpenAI.BadRequestError);
    assert.equal(error.type, "protocol_mismatch");
    assert.match(error.message, /\/v1\/messages/);
    assert.equal(fake.requests.length, 0);
  });
});

Deno.test("an unknown model is refused with 400 unknown_model in OpenAI's shape", async () => {
  await withGateway(async ({ client, gateway }) => {
    const error = await client.chat.completions.create({ model: "gpt-2", messages: MESSAGES })
      .catch((e) => e);
    assert.ok(error instanceof OpenAI.BadRequestError);
    assert.equal(error.type, "unknown_model");
    assert.equal(error.param, "model");
    const m = await gateway.metrics();
    assert.deepEqual(
      find(m, "inference_requests_total").filter((s) => s.value > 0).map((s) => s.labels),
      [{ model: "unknown", tenant: "team-chat", status: "unknown_model" }],
    );
  });
});

Deno.test("the client's bearer token is never forwarded; the provider's key is sent instead", async () => {
  await withGateway(async ({ client, fake }) => {
    await client.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    const headers = fake.requests[0].headers;
    assert.equal(headers.authorization, `Bearer ${UPSTREAM_KEY}`);
    const forwarded = Object.values(headers).filter((v) => v.includes("client-key-of-team-chat"));
    assert.deepEqual(forwarded, []);
  });
});

Deno.test("an incoming traceparent is continued and the upstream call is a child CLIENT span whose context goes upstream", async () => {
  await withGateway(async ({ fake, gateway }) => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: MESSAGES }),
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const spans = gateway.exporter.getFinishedSpans();
    const request = spans.find((s) => s.name === "inference_request")!;
    const upstream = spans.find((s) => s.name === "chat gpt-4o-mini-2024-07-18")!;
    assert.equal(request.spanContext().traceId, traceId);
    assert.equal(request.parentSpanContext?.spanId, "00f067aa0ba902b7");
    assert.equal(upstream.kind, 2); // SpanKind.CLIENT
    assert.equal(upstream.spanContext().traceId, traceId);
    assert.equal(upstream.parentSpanContext?.spanId, request.spanContext().spanId);
    assert.equal(
      fake.requests[0].headers.traceparent,
      `00-${traceId}-${upstream.spanContext().spanId}-01`,
    );
    assert.equal(upstream.attributes["gen_ai.provider.name"], "openai");
    assert.equal(upstream.attributes["http.response.status_code"], 200);
  });
});

Deno.test("a routed model reserves its worst case: the model's max output when max_tokens is absent", async () => {
  const tenants = {
    tenants: [
      { id: "default", hourly_alert_threshold_usd: 25 },
      { id: "team-chat", hourly_alert_threshold_usd: 100, budgets: { hour: "0.005" } },
    ],
  };
  const path = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(path, JSON.stringify(tenants));
  try {
    await withGateway(async ({ client, fake, gateway }) => {
      // 16384 output tokens at $0.60/1M alone is $0.0098, over the $0.005 hourly budget.
      const refused = await client.chat.completions.create({
        model: "gpt-4o-mini",
        messages: MESSAGES,
      }).catch((e) => e);
      assert.ok(refused instanceof OpenAI.RateLimitError);
      assert.equal(refused.type, "budget_exceeded");
      assert.equal(fake.requests.length, 0);
      const { response } = await client.chat.completions.create({
        model: "gpt-4o-mini",
        messages: MESSAGES,
        max_tokens: 500,
      }).withResponse();
      assert.equal(response.headers.get("x-inference-cost-usd"), String(reportedCost()));
      const m = await gateway.metrics();
      assertClose(
        total(m, "inference_budget_spent_usd", { tenant: "team-chat", window: "hour" }),
        reportedCost(),
        "spend settles to the actual cost",
      );
    }, { TENANTS_FILE: path });
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("the exposition served on /metrics agrees with the registry", async () => {
  await withGateway(async ({ client, gateway }) => {
    await client.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES });
    const res = await fetch(`${gateway.url}/metrics`);
    assertReportedUsage(parseExposition(await res.text()));
  });
});

Deno.test("a stream holds its concurrency slot until it ends, then gives it back", async () => {
  await withGateway(async ({ client, fake }) => {
    fake.behaviour = { mode: "stall", chunks: 1 };
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: MESSAGES,
      stream: true,
    });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    const refused = await client.chat.completions.create({ model: "gpt-4o", messages: MESSAGES })
      .catch((e) => e);
    assert.ok(refused instanceof OpenAI.APIError);
    assert.equal(refused.status, 503);
    assert.equal(refused.type, "overloaded");
    await iterator.return?.();
    fake.behaviour = { mode: "ok" };
    await eventually("the slot is given back", within(5_000), async () => {
      const next = await client.chat.completions.create({ model: "gpt-4o", messages: MESSAGES })
        .catch((e) => e);
      return !(next instanceof Error);
    });
  }, { MAX_CONCURRENT_REQUESTS: "1" });
});
