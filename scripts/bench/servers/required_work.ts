/**
 * The required work's floor: the least a cost tracker with this project's ledger must do for each
 * request, and nothing else. Scenario 7 runs it beside this server and the bare floors, so each
 * run shows how much of the distance to a floor is the work itself and how much is this server's
 * own (validation, admission and budgets, the log line, spans, the full relay's scan).
 *
 * Per request, with this project's own code where the server has it: the JSON body read; the
 * token counts (`/v1/inference`: prompt and reply, with the project's tokenizer) or the upstream's
 * usage (chat); the exact cost (the embedded price table, `costOf`); the server's per-request
 * metric updates (prom-client: the request, input and output tokens and cost counters, the
 * duration and cost histograms, time to first token for a stream); and one spend-ledger row
 * committed before the response's last byte (the SQLite ledger, its writer on a worker thread as
 * the server's). Nothing is validated beyond what the work needs, no budget is checked, nothing is
 * logged or traced.
 *
 * Routes: POST /v1/inference (the simulated model's echo), POST /v1/chat/completions sent on to
 * UPSTREAM_URL, plain or streamed. A stream goes out chunk by chunk as read (BYOB reads into a
 * reused buffer, one pull-driven response stream) and its usage is read from its last chunks,
 * where an OpenAI-compatible upstream puts it: enough for the fake upstream, not a relay for real
 * providers (those split events across reads and need every event scanned, as the server does).
 *
 * Env: PORT (127.0.0.1), UPSTREAM_URL, LEDGER_PATH (a SQLite file; `none` for no ledger).
 */
import { Hono } from "hono";
import client from "prom-client";
import { countChatTokens, tokenCounter } from "../../../src/tokens/count.ts";
import { costOf, embeddedPriceTable, type TokenUsage } from "../../../src/pricing/pricing.ts";
import { picoToUsd } from "../../../src/pricing/money.ts";
import { openSqliteLedger } from "../../../src/ledger/ledger.ts";
import { kindCostsOf } from "../../../src/ledger/row.ts";
import { COST_BUCKETS, DURATION_BUCKETS, TTFT_BUCKETS } from "../../../src/telemetry/names.ts";

const port = Number(Deno.env.get("PORT") ?? "0");
const upstream = (Deno.env.get("UPSTREAM_URL") ?? "").replace(/\/$/, "");
const ledgerPath = Deno.env.get("LEDGER_PATH") ?? "none";

const prices = embeddedPriceTable();
const ledger = ledgerPath === "none" ? null : openSqliteLedger(ledgerPath, "normal");

const byModelTenant = ["model", "tenant"] as const;
const counter = <L extends string>(name: string, labelNames: readonly L[]) =>
  new client.Counter<L>({ name, help: name, labelNames });
const histogram = (name: string, buckets: number[]) =>
  new client.Histogram<"model">({ name, help: name, labelNames: ["model"], buckets });
// The server's per-request families: the same names, labels and buckets.
const metrics = {
  requests: counter("inference_requests_total", ["model", "tenant", "status"]),
  inputTokens: counter("inference_input_tokens_total", byModelTenant),
  outputTokens: counter("inference_output_tokens_total", byModelTenant),
  costUsd: counter("inference_cost_usd_total", byModelTenant),
  duration: histogram("inference_request_duration_seconds", [...DURATION_BUCKETS]),
  costPerRequest: histogram("inference_cost_per_request_usd", [...COST_BUCKETS]),
  ttft: histogram("inference_time_to_first_token_seconds", [...TTFT_BUCKETS]),
};

interface Work {
  readonly tenant: string;
  readonly requestModel: string;
  readonly route: string;
  readonly operation: string;
  readonly provider: string;
  readonly startedMs: number;
  readonly ttftMs?: number;
}

/**
 * Prices, counts and records one finished request; resolves with its cost in USD once its ledger
 * row is committed.
 */
async function account(work: Work, inputTokens: number, outputTokens: number): Promise<number> {
  const price = prices.resolve(work.requestModel);
  if (price === undefined) throw new Error(`no price for ${work.requestModel}`);
  const usage: TokenUsage = {
    inputTokens,
    outputTokens,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
  };
  const cost = costOf(price, usage);
  const costUsd = picoToUsd(cost.totalPico);
  const model = price.id;
  const pair = { model, tenant: work.tenant };
  metrics.requests.inc({ ...pair, status: "ok" });
  metrics.inputTokens.inc(pair, inputTokens);
  metrics.outputTokens.inc(pair, outputTokens);
  metrics.costUsd.inc(pair, costUsd);
  const now = performance.now();
  metrics.duration.observe({ model }, (now - work.startedMs) / 1000);
  metrics.costPerRequest.observe({ model }, costUsd);
  if (work.ttftMs !== undefined) metrics.ttft.observe({ model }, work.ttftMs / 1000);
  await ledger?.append({
    requestId: crypto.randomUUID(),
    ts: Date.now(),
    tenant: work.tenant,
    keyName: null,
    endUser: null,
    model,
    requestModel: work.requestModel,
    provider: work.provider,
    route: work.route,
    operation: work.operation,
    status: "ok",
    errorType: null,
    inputTokens,
    cachedInputTokens: 0,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
    outputTokens,
    reasoningTokens: 0,
    serviceTier: null,
    priceTier: cost.priceTier,
    costPico: cost.totalPico,
    kindCosts: kindCostsOf(cost),
    unpriced: false,
    usageSource: work.route === "/v1/inference" ? "estimated" : "provider",
    pricingVersion: prices.version,
    traceId: null,
  });
  return costUsd;
}

const decoder = new TextDecoder();
/** `prompt_tokens` and `completion_tokens` of an OpenAI usage object, as JSON text. */
const USAGE = /"prompt_tokens"\s*:\s*(\d+)\s*,\s*"completion_tokens"\s*:\s*(\d+)/;
const READ_BYTES = 16 * 1024;

const app = new Hono();

app.post("/v1/inference", async (c) => {
  const startedMs = performance.now();
  const body = await c.req.json<{ prompt?: unknown; model?: unknown; tenant?: unknown }>();
  if (typeof body.prompt !== "string") return c.json({ error: "prompt must be a string" }, 400);
  const requestModel = typeof body.model === "string" ? body.model : "gpt-4o-mini";
  const price = prices.resolve(requestModel);
  if (price === undefined) return c.json({ error: `no price for ${requestModel}` }, 400);
  const counter = tokenCounter(price.tokenizer);
  const text = `Response to: ${body.prompt.slice(0, 50)}...`;
  const inputTokens = countChatTokens(counter, [{ role: "user", content: body.prompt }]);
  const outputTokens = counter.count(text);
  const tenant = typeof body.tenant === "string" ? body.tenant : "default";
  const costUsd = await account(
    {
      tenant,
      requestModel,
      route: "/v1/inference",
      operation: "text_completion",
      provider: "simulated",
      startedMs,
    },
    inputTokens,
    outputTokens,
  );
  return c.json({
    text,
    model: requestModel,
    input_tokens: inputTokens,
    output_tokens: outputTokens,
    cost_usd: costUsd,
  });
});

app.post("/v1/chat/completions", async (c) => {
  const startedMs = performance.now();
  const raw = await c.req.arrayBuffer();
  const body = JSON.parse(decoder.decode(raw)) as { model?: unknown; stream?: unknown };
  if (typeof body.model !== "string") return c.json({ error: "model must be a string" }, 400);
  const work = {
    tenant: c.req.header("x-tenant-id") ?? "default",
    requestModel: body.model,
    route: "/v1/chat/completions",
    operation: "chat",
    provider: "openai",
    startedMs,
  };
  const answer = await fetch(`${upstream}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: raw,
    signal: c.req.raw.signal,
  });
  if (body.stream !== true) {
    const text = await answer.text();
    const usage =
      (JSON.parse(text) as { usage: { prompt_tokens: number; completion_tokens: number } })
        .usage;
    await account(work, usage.prompt_tokens, usage.completion_tokens);
    return new Response(text, {
      status: answer.status,
      headers: { "content-type": "application/json" },
    });
  }
  const reader = answer.body!.getReader({ mode: "byob" });
  let buffer = new ArrayBuffer(READ_BYTES);
  let before: Uint8Array | undefined;
  let last: Uint8Array | undefined;
  let ttftMs: number | undefined;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const read = await reader.read(new Uint8Array(buffer));
      if (read.done) {
        const tail = (before ? decoder.decode(before) : "") + (last ? decoder.decode(last) : "");
        const usage = USAGE.exec(tail);
        if (usage === null) throw new Error("the stream carried no usage");
        await account({ ...work, ttftMs }, Number(usage[1]), Number(usage[2]));
        controller.close();
        return;
      }
      buffer = read.value.buffer as ArrayBuffer;
      const chunk = read.value.slice();
      ttftMs ??= performance.now() - startedMs;
      before = last;
      last = chunk;
      controller.enqueue(chunk);
    },
    cancel() {
      return reader.cancel();
    },
  }, { highWaterMark: 0 });
  return new Response(stream, { headers: { "content-type": "text/event-stream" } });
});

app.get("/health", (c) => c.json({ status: "ok" }));

Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, app.fetch);
