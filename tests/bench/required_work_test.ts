/**
 * The floor scenario's required-work server (scripts/bench/servers/required_work.ts), run as the
 * scenario runs it: its own process, in front of an OpenAI-shaped upstream here on 127.0.0.1. It
 * must do the work it stands for — exact token counts and costs, the upstream's bytes untouched,
 * one committed ledger row per request — or its ratios would bound nothing.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { countChatTokens, tokenCounter } from "../../src/tokens/count.ts";
import { costOf, embeddedPriceTable } from "../../src/pricing/pricing.ts";
import { freePort } from "../../scripts/bench/lib/processes.ts";

const SERVER = new URL("../../scripts/bench/servers/required_work.ts", import.meta.url);
const MODEL = "gpt-4o-mini";

const plainAnswer = JSON.stringify({
  id: "chatcmpl-1",
  object: "chat.completion",
  model: MODEL,
  choices: [{ index: 0, message: { role: "assistant", content: "Hi there" } }],
  usage: { prompt_tokens: 12, completion_tokens: 34, total_tokens: 46 },
});
const streamEvents = [
  ...["Hi", " there", "!"].map((text) =>
    `data: ${
      JSON.stringify({
        object: "chat.completion.chunk",
        model: MODEL,
        choices: [{ index: 0, delta: { content: text } }],
      })
    }\n\n`
  ),
  `data: ${
    JSON.stringify({
      object: "chat.completion.chunk",
      model: MODEL,
      choices: [],
      usage: { prompt_tokens: 21, completion_tokens: 3, total_tokens: 24 },
    })
  }\n\n`,
  "data: [DONE]\n\n",
];

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} never answered`);
}

function upstream(): Deno.HttpServer<Deno.NetAddr> {
  const encoder = new TextEncoder();
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const body = await request.json() as { stream?: boolean };
    if (!body.stream) {
      return new Response(plainAnswer, { headers: { "content-type": "application/json" } });
    }
    // One write per event, with a pause between, so the server reads them one by one.
    let i = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (i === streamEvents.length) return controller.close();
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 5));
        controller.enqueue(encoder.encode(streamEvents[i++]));
      },
    });
    return new Response(stream, { headers: { "content-type": "text/event-stream" } });
  });
}

Deno.test("required work: each request is counted, priced and committed to the ledger, the upstream's bytes untouched", async () => {
  const up = upstream();
  const dir = await Deno.makeTempDir();
  const port = freePort();
  const ledgerPath = `${dir}/ledger.sqlite`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SERVER.pathname],
    env: {
      PORT: String(port),
      UPSTREAM_URL: `http://127.0.0.1:${up.addr.port}`,
      LEDGER_PATH: ledgerPath,
    },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitReady(`${base}/health`);
    const json = { "content-type": "application/json", "x-tenant-id": "team-a" };

    const prompt = "Explain transformers in 3 sentences";
    const inference = await fetch(`${base}/v1/inference`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ prompt, model: MODEL, tenant: "team-search" }),
    });
    assert.equal(inference.status, 200);
    const answer = await inference.json() as Record<string, number | string>;
    const price = embeddedPriceTable().resolve(MODEL)!;
    const counter = tokenCounter(price.tokenizer);
    const input = countChatTokens(counter, [{ role: "user", content: prompt }]);
    const output = counter.count(String(answer.text));
    assert.equal(answer.input_tokens, input);
    assert.equal(answer.output_tokens, output);
    const cost = (inputTokens: number, outputTokens: number) =>
      costOf(price, { inputTokens, outputTokens, cachedInputTokens: 0, cacheWriteTokens: 0 })
        .totalPico;
    assert.equal(answer.cost_usd, Number(cost(input, output)) / 1e12);

    const chat = (stream: boolean) =>
      fetch(`${base}/v1/chat/completions`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "Hi" }], stream }),
      });
    const plain = await chat(false);
    assert.equal(plain.status, 200);
    assert.equal(await plain.text(), plainAnswer);
    const streamed = await chat(true);
    assert.equal(streamed.status, 200);
    assert.equal(await streamed.text(), streamEvents.join(""));

    // Each response waited for its row's commit: the rows are in the file even if the process
    // dies right after the last one.
    child.kill("SIGKILL");
    await child.status;
    const db = new DatabaseSync(ledgerPath, { readOnly: true });
    try {
      const rows = db.prepare(
        "SELECT tenant, route, input_tokens, output_tokens, cost_pico, usage_source FROM ledger",
      ).all().map((row) => ({ ...row, cost_pico: BigInt(row.cost_pico as number | bigint) }));
      // The three requests went one after another, but may share a millisecond.
      const byTokens = (a: Record<string, unknown>, b: Record<string, unknown>) =>
        Number(a.output_tokens) - Number(b.output_tokens);
      assert.deepEqual(
        rows.sort(byTokens),
        [
          {
            tenant: "team-search",
            route: "/v1/inference",
            input_tokens: input,
            output_tokens: output,
            cost_pico: cost(input, output),
            usage_source: "estimated",
          },
          {
            tenant: "team-a",
            route: "/v1/chat/completions",
            input_tokens: 12,
            output_tokens: 34,
            cost_pico: cost(12, 34),
            usage_source: "provider",
          },
          {
            tenant: "team-a",
            route: "/v1/chat/completions",
            input_tokens: 21,
            output_tokens: 3,
            cost_pico: cost(21, 3),
            usage_source: "provider",
          },
        ].sort(byTokens),
      );
    } finally {
      db.close();
    }
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // killed above
    }
    await child.stderr.cancel();
    await child.status;
    await up.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
