/**
 * POST /v1/messages/count_tokens driven by the official `@anthropic-ai/sdk`
 * (`client.messages.countTokens`): passed through unbilled to the Anthropic provider serving the
 * model, or answered with a local estimate that equals the simulated model's own input count.
 */
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import {
  fakeProviders,
  startFakeUpstream,
  startGateway,
  UPSTREAM_KEY,
} from "../../helpers/fake_upstream.ts";
import { COUNTED_TOKENS } from "../../helpers/fake_answers.ts";
import { withJsonFile } from "../../helpers/files.ts";
import { total } from "../../helpers/prom.ts";

const SYSTEM = "You are terse.";
const MESSAGES = [{ role: "user" as const, content: "Explain transformers in 3 sentences" }];

type Gateway = Awaited<ReturnType<typeof startGateway>>;

async function withGateway(
  fn: (
    ctx: { client: Anthropic; fake: ReturnType<typeof startFakeUpstream>; gateway: Gateway },
  ) => Promise<void>,
  env: Record<string, string> = {},
) {
  const fake = startFakeUpstream();
  const gateway = await startGateway(fakeProviders(fake), env);
  const client = new Anthropic({
    apiKey: "client-key",
    baseURL: gateway.url,
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

Deno.test("countTokens is passed through to the Anthropic provider of the model, unbilled", async () => {
  await withGateway(async ({ client, fake, gateway }) => {
    const counted = await client.messages.countTokens({
      model: "claude-3.5-sonnet",
      system: SYSTEM,
      messages: MESSAGES,
    });
    assert.deepEqual(counted, COUNTED_TOKENS);
    const sent = fake.requests[0];
    assert.equal(sent.path, "/v1/messages/count_tokens");
    assert.deepEqual(sent.body, {
      model: "claude-3-5-sonnet-20241022",
      system: SYSTEM,
      messages: MESSAGES,
    });
    assert.equal(sent.headers["x-api-key"], UPSTREAM_KEY);
    assert.ok(sent.headers["anthropic-version"]);
    const m = await gateway.metrics();
    assert.equal(total(m, "inference_requests_total"), 0, "a count is not an inference request");
    assert.equal(total(m, "inference_input_tokens_total"), 0);
    const spans = gateway.exporter.getFinishedSpans().map((s) => s.name);
    assert.deepEqual(spans, ["count_tokens claude-3-5-sonnet-20241022"]);
  });
});

Deno.test("without a provider the count is a local estimate equal to the simulated model's own input count", async () => {
  await withGateway(async ({ client, fake }) => {
    const request = { model: "claude-haiku-4.5", system: SYSTEM, messages: MESSAGES };
    const counted = await client.messages.countTokens(request);
    const answered = await client.messages.create({ ...request, max_tokens: 64 });
    assert.equal(counted.input_tokens, answered.usage.input_tokens);
    assert.ok(counted.input_tokens > 10);
    const withTools = await client.messages.countTokens({
      ...request,
      tools: [{ name: "lookup", input_schema: { type: "object", properties: {} } }],
    });
    assert.ok(withTools.input_tokens > counted.input_tokens, "tool definitions are counted");
    assert.equal(fake.requests.length, 0);
  });
});

Deno.test("count_tokens errors keep Anthropic's shape: a bad body, a model served over OpenAI's API, an upstream 4xx", async () => {
  await withGateway(async ({ client, fake }) => {
    const bad = await client.messages.countTokens({
      model: "claude-3.5-sonnet",
      messages: [],
    }).catch((e) => e);
    assert.ok(bad instanceof Anthropic.BadRequestError);
    assert.equal((bad.error as { type: string }).type, "error");
    assert.equal(bad.type, "invalid_request");
    const openai = await client.messages.countTokens({ model: "gpt-4o-mini", messages: MESSAGES })
      .catch((e) => e);
    assert.ok(openai instanceof Anthropic.BadRequestError);
    assert.equal(openai.type, "protocol_mismatch");
    assert.equal(fake.requests.length, 0);
    fake.behaviour = {
      mode: "status",
      status: 400,
      errorBody: {
        type: "error",
        error: { type: "invalid_request_error", message: "messages: bad role" },
      },
    };
    const upstream = await client.messages.countTokens({
      model: "claude-3.5-sonnet",
      messages: MESSAGES,
    }).catch((e) => e);
    assert.ok(upstream instanceof Anthropic.BadRequestError);
    assert.equal(upstream.type, "invalid_request_error");
    assert.match(upstream.message, /bad role/);
  });
});

Deno.test("a tenant with no budget left gets 429 budget_exceeded on count_tokens too", async () => {
  const tenants = {
    tenants: [
      { id: "default", hourly_alert_threshold_usd: 25 },
      { id: "team-chat", hourly_alert_threshold_usd: 100, budgets: { month: "0" } },
    ],
  };
  await withJsonFile(tenants, (path) =>
    withGateway(async ({ client, fake }) => {
      for (const model of ["claude-3.5-sonnet", "claude-haiku-4.5"]) {
        const error = await client.messages.countTokens({ model, messages: MESSAGES })
          .catch((e) => e);
        assert.ok(error instanceof Anthropic.RateLimitError, String(error));
        assert.equal(error.type, "budget_exceeded");
        assert.equal((error.error as { error: { window: string } }).error.window, "month");
      }
      assert.equal(fake.requests.length, 0);
    }, { TENANTS_FILE: path }));
});
