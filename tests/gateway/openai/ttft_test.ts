/**
 * Measures the time to first token the gateway adds to a streamed response: the same streamed
 * request straight to the fake upstream and through the gateway, interleaved, timed from the
 * request until the first content chunk is read. Reports the medians; asserts only that streaming
 * works through both, since a timing assertion would fail on a busy machine.
 */
import assert from "node:assert/strict";
import { fakeProviders, startFakeUpstream, startGateway } from "../../helpers/fake_upstream.ts";

const RUNS = 50;
const WARM_UP = 5;
const BODY = JSON.stringify({
  model: "gpt-4o-mini",
  stream: true,
  messages: [{ role: "user", content: "Say hello." }],
});

/** Milliseconds from sending the request until the first content chunk has been read. */
async function timeToFirstContent(url: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: BODY,
  });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let firstMs: number | undefined;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    seen += value;
    if (firstMs === undefined && seen.includes('"content":"Hello"')) {
      firstMs = performance.now() - started;
    }
  }
  assert.ok(firstMs !== undefined, `no content chunk from ${url}`);
  return firstMs;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

Deno.test("time to first token added by the gateway to a streamed response is measured and reported", async () => {
  const fake = startFakeUpstream();
  const gateway = await startGateway(fakeProviders(fake), { LOG_LEVEL: "silent" });
  const direct = `${fake.openAiBaseUrl}/chat/completions`;
  const proxied = `${gateway.url}/v1/chat/completions`;
  try {
    for (let i = 0; i < WARM_UP; i++) {
      await timeToFirstContent(direct);
      await timeToFirstContent(proxied);
    }
    const directMs: number[] = [];
    const proxiedMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      directMs.push(await timeToFirstContent(direct));
      proxiedMs.push(await timeToFirstContent(proxied));
    }
    directMs.sort((a, b) => a - b);
    proxiedMs.sort((a, b) => a - b);
    const d50 = percentile(directMs, 0.5);
    const p50 = percentile(proxiedMs, 0.5);
    console.log(
      `time to first token over ${RUNS} streamed requests: direct median ${d50.toFixed(2)} ms ` +
        `(p90 ${percentile(directMs, 0.9).toFixed(2)}), through the gateway median ${
          p50.toFixed(2)
        } ms (p90 ${percentile(proxiedMs, 0.9).toFixed(2)}); added median ${
          (p50 - d50).toFixed(2)
        } ms`,
    );
    assert.equal(proxiedMs.length, RUNS);
  } finally {
    await gateway.stop();
    await fake.stop();
  }
});
