import assert from "node:assert/strict";
import { createSimulatedBackend } from "../../src/backends/simulated.ts";
import type { StreamEvent } from "../../src/backends/types.ts";
import { tokenCounter } from "../../src/tokens/count.ts";

const o200k = tokenCounter("o200k_base", { exact: true });
const countTokens = (_model: string, text: string) => o200k.count(text);
const signal = new AbortController().signal;
const ask = (prompt: string, maxTokens = 512) => ({
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: prompt }],
  maxTokens,
  signal,
});

Deno.test("echo mode answers the tutorial's reply with the first 50 characters", async () => {
  const sim = createSimulatedBackend({ mode: "echo", ttftMs: 0, tokenMs: 0, countTokens });
  const long = "x".repeat(30) + "é".repeat(30);
  const out = await sim.generate(ask(long));
  assert.equal(out.text, `Response to: ${"x".repeat(30)}${"é".repeat(20)}...`);
  assert.equal(out.finishReason, "stop");
});

Deno.test("echo mode never splits a surrogate pair at the 50-character cut", async () => {
  const sim = createSimulatedBackend({ mode: "echo", ttftMs: 0, tokenMs: 0, countTokens });
  const out = await sim.generate(ask("a".repeat(49) + "😀😀"));
  assert.equal(out.text, `Response to: ${"a".repeat(49)}😀...`);
});

Deno.test("the reply is cut to max_tokens", async () => {
  const sim = createSimulatedBackend({ mode: "echo", ttftMs: 0, tokenMs: 0, countTokens });
  const out = await sim.generate(ask("Explain transformers in 3 sentences", 4));
  assert.ok(o200k.count(out.text) <= 4);
  assert.ok(out.text.startsWith("Response"));
  assert.equal(out.finishReason, "length");
});

Deno.test("given the caller's counter, the reply is cut with it and its count is reported", async () => {
  const cl100k = tokenCounter("cl100k_base", { exact: false });
  const sim = createSimulatedBackend({ mode: "echo", ttftMs: 0, tokenMs: 0, countTokens });
  const prompt = "Explain transformers in 3 sentences, then again in French";
  const cut = await sim.generate({ ...ask(prompt, 7), counter: cl100k });
  assert.equal(cut.outputTokens, cl100k.count(cut.text));
  assert.equal(cut.outputTokens, 7);
  const whole = await sim.generate({ ...ask(prompt), counter: cl100k });
  assert.equal(whole.outputTokens, cl100k.count(whole.text));
  assert.equal((await sim.generate(ask(prompt))).outputTokens, undefined, "no counter, no count");
});

Deno.test("realistic mode is deterministic, fills max_tokens and waits TTFT plus per-token time", async () => {
  const waits: number[] = [];
  const sim = createSimulatedBackend({
    mode: "realistic",
    ttftMs: 200,
    tokenMs: 20,
    countTokens,
    sleep: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
  });
  const a = await sim.generate(ask("same prompt", 100));
  const b = await sim.generate(ask("same prompt", 100));
  assert.equal(a.text, b.text);
  const tokens = o200k.count(a.text);
  assert.ok(tokens <= 100 && tokens >= 95, `tokens ${tokens}`);
  assert.deepEqual(waits, [200 + tokens * 20, 200 + tokens * 20]);
  assert.notEqual((await sim.generate(ask("another prompt", 100))).text, a.text);
});

Deno.test("streaming yields the same text in pieces, then done", async () => {
  const sim = createSimulatedBackend({ mode: "realistic", ttftMs: 0, tokenMs: 0, countTokens });
  const whole = await sim.generate(ask("stream me", 50));
  const events: StreamEvent[] = [];
  for await (const e of sim.stream(ask("stream me", 50))) events.push(e);
  const last = events.at(-1);
  assert.equal(last?.kind, "done");
  const text = events.map((e) => e.kind === "text" ? e.text : "").join("");
  assert.equal(text, whole.text);
  assert.ok(events.length > 10);
});

Deno.test("an aborted realistic generation rejects instead of hanging", async () => {
  const sim = createSimulatedBackend({
    mode: "realistic",
    ttftMs: 60_000,
    tokenMs: 0,
    countTokens,
  });
  const controller = new AbortController();
  const pending = sim.generate({ ...ask("slow"), signal: controller.signal });
  controller.abort(new Error("client went away"));
  await assert.rejects(pending, /client went away/);
});
