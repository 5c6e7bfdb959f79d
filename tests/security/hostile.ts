/**
 * The runner of the hostile-request tests: a case states the request and the status and error
 * type it must get; running it checks that no case ends in a 5xx, that every error is JSON in the
 * route's documented shape, and that the cost and token totals move only for a request that
 * succeeded — and then by exactly what its answer says it used.
 */
import assert from "node:assert/strict";
import { testApp } from "../helpers/app.ts";
import { type Exposition, total } from "../helpers/prom.ts";
import { costOf, embeddedPriceTable } from "../../src/pricing/pricing.ts";

export type Body = string | Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array>;

/** One hostile request and what it must get back. */
export interface HostileCase {
  readonly name: string;
  readonly method?: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: Body | (() => Body);
  readonly status: number;
  /** The documented error type; absent for a success. */
  readonly type?: string;
  /** Extra checks on the response. */
  readonly check?: (res: Response, body: unknown) => void;
}

/** The JSON content-type header. */
export const JSON_CT = { "content-type": "application/json" };
/** A value as JSON text. */
export const json = (value: unknown) => JSON.stringify(value);
/** Text as UTF-8 bytes. */
export const enc = (text: string) => new TextEncoder().encode(text);
/** Ten megabytes: ten times the body limit. */
export const TEN_MB = 10 * 1024 * 1024;
/** A prompt limit below the 1 MiB body limit, so both can be crossed. */
export const ENV = { MAX_PROMPT_CHARS: "600000", LOG_LEVEL: "silent" };

/** `bytes` as a body streamed in chunks, with no Content-Length. */
export function streamOf(
  bytes: Uint8Array<ArrayBuffer>,
  chunk = 64 * 1024,
): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, offset += chunk));
    },
  });
}

/** A POST builder for one route. */
export function poster(path: string) {
  return (
    name: string,
    body: HostileCase["body"],
    status: number,
    type?: string,
    extra: Partial<HostileCase> = {},
  ): HostileCase => ({
    name,
    path,
    method: "POST",
    headers: JSON_CT,
    body,
    status,
    type,
    ...extra,
  });
}

/** Anthropic's SDK needs `{"type":"error","error":{...}}` to raise its own exceptions. */
export function anthropicShape(_res: Response, body: unknown): void {
  assert.equal((body as { type?: string }).type, "error");
}

/** The error type in this server's, OpenAI's or Anthropic's error shape. */
function errorTypeOf(body: unknown): string | undefined {
  const b = body as { error?: { type?: unknown } } | null;
  return typeof b?.error?.type === "string" ? b.error.type : undefined;
}

interface Totals {
  cost: number;
  input: number;
  output: number;
  cached: number;
}

function totalsOf(m: Exposition): Totals {
  return {
    cost: total(m, "inference_cost_usd_total"),
    input: total(m, "inference_input_tokens_total"),
    output: total(m, "inference_output_tokens_total"),
    cached: total(m, "inference_cached_input_tokens_total"),
  };
}

const PRICES = embeddedPriceTable();

/** Routes that bill nothing: a success there moves no total and has no cost header. */
const UNBILLED = new Set(["/v1/messages/count_tokens"]);

/**
 * What a successful answer says it used: tokens from its body or stream (Chat Completions,
 * Messages, Responses, embeddings shapes), cost as billed.
 */
function billedOf(path: string, res: Response, answer: unknown): Totals {
  if (path === "/v1/inference") {
    const b = answer as { cost_usd: number; input_tokens: number; output_tokens: number };
    return { cost: b.cost_usd, input: b.input_tokens, output: b.output_tokens, cached: 0 };
  }
  if (UNBILLED.has(path)) {
    assert.equal(res.headers.get("x-inference-cost-usd"), null);
    return { cost: 0, input: 0, output: 0, cached: 0 };
  }
  let model = "";
  let input = 0;
  let output = 0;
  const take = (event: Record<string, unknown>) => {
    // Messages' message_start and the Responses events carry the usage one level down.
    const holder = (event.message ?? event.response) as
      | { usage?: unknown; model?: string }
      | undefined;
    const u = (event.usage ?? holder?.usage) as Record<string, number> | null | undefined;
    model = String(event.model ?? holder?.model ?? model);
    if (!u) return;
    if (u.prompt_tokens !== undefined) input = u.prompt_tokens;
    if (u.completion_tokens !== undefined) output = u.completion_tokens;
    if (u.input_tokens !== undefined) {
      input = u.input_tokens + (u.cache_read_input_tokens ?? 0) +
        (u.cache_creation_input_tokens ?? 0);
    }
    if (u.output_tokens !== undefined) output = u.output_tokens;
  };
  if (typeof answer === "string") {
    for (const block of answer.split("\n\n")) {
      const data = block.split("\n").find((l) => l.startsWith("data: "))?.slice(6);
      if (data && data !== "[DONE]") take(JSON.parse(data));
    }
  } else {
    take(answer as Record<string, unknown>);
  }
  const header = res.headers.get("x-inference-cost-usd");
  const price = PRICES.resolve(model);
  assert.ok(price, `an answer for model ${model}`);
  const pico = costOf(price, {
    inputTokens: input,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: output,
  }).totalPico;
  if (header !== null) assert.equal(Number(header), Number(pico) / 1e12);
  return { cost: Number(pico) / 1e12, input, output, cached: 0 };
}

/** Runs every case on one app; returns how many ran. */
export async function runCases(t: Deno.TestContext, cases: HostileCase[]): Promise<number> {
  const app = testApp(ENV);
  let ran = 0;
  for (const c of cases) {
    await t.step(`${c.name} → ${c.status}${c.type ? " " + c.type : ""}`, async () => {
      const before = totalsOf(await app.metrics());
      const started = performance.now();
      const res = await app.app.request(c.path, {
        method: c.method ?? "GET",
        headers: c.headers,
        body: typeof c.body === "function" ? c.body() : c.body,
      });
      const text = await res.text();
      const elapsedMs = performance.now() - started;
      assert.ok(res.status < 500, `5xx: ${res.status} ${text.slice(0, 200)}`);
      assert.equal(res.status, c.status, text.slice(0, 300));
      assert.ok(elapsedMs < 10_000, `took ${Math.round(elapsedMs)} ms`);
      let body: unknown = undefined;
      const streamed = /^text\/event-stream/.test(res.headers.get("content-type") ?? "");
      if (c.method !== "HEAD" && !(c.path === "/metrics" && res.status === 200) && !streamed) {
        assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
        body = JSON.parse(text);
      }
      if (res.status >= 400) assert.equal(errorTypeOf(body), c.type, text.slice(0, 300));
      const after = totalsOf(await app.metrics());
      if (res.status === 200 && c.method === "POST") {
        const billed = billedOf(c.path, res, streamed ? text : body);
        assert.ok(Math.abs(after.cost - before.cost - billed.cost) <= 1e-9 * after.cost);
        assert.equal(after.input - before.input, billed.input);
        assert.equal(after.output - before.output, billed.output);
      } else {
        assert.deepEqual(after, before, "a refused request moved a cost or token total");
      }
      c.check?.(res, body);
      ran++;
    });
  }
  return ran;
}
