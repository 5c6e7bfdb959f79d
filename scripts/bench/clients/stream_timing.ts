/**
 * One client timing streamed chat completions, run as its own (pinned) process: sends `count`
 * requests one after another and, for each, measures the time from sending to the first SSE event
 * carrying text (time to first token) and to the end of the stream (time to last token).
 * With `rate`, request i is due at i / rate seconds after the start and times are measured from
 * when it was due, not when it left (a stall delays the requests behind it, and that delay is
 * counted, as `oha --latency-correction` does).
 * With `warmup`, that many requests go first, on the same schedule, and are not counted: a new
 * client process times its own first requests too (its JIT, its first connection: the first five
 * of a run took 3-13 ms against a median of 1.2 ms, straight to the upstream), and in a run of
 * 800 those few are most of the slowest 1 %.
 * Prints one JSON object: `{ "ttftMs": [...], "ttltMs": [...], "errors": n, "lastError": "" }`.
 *
 * Usage: deno run --allow-net --allow-read stream_timing.ts <spec.json>
 * where spec.json is `{ "url", "headers", "body", "count", "rate"?, "warmup"? }`.
 */

interface Spec {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly count: number;
  /** Requests per second; absent: each request leaves as soon as the previous one ended. */
  readonly rate?: number;
  /** Requests sent first and not counted (none when absent). */
  readonly warmup?: number;
}

const decoder = new TextDecoder();
// A text delta: `"content":"` followed by at least one character of text.
const TEXT_DELTA = /"content":"(?:[^"\\]|\\.)/;

/** Times one streamed request from `started`; throws on a non-200 answer. */
async function timeOne(spec: Spec, started: number): Promise<[number, number]> {
  const res = await fetch(spec.url, { method: "POST", headers: spec.headers, body: spec.body });
  if (res.status !== 200 || !res.body) {
    const text = await res.text();
    throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
  }
  let firstToken = NaN;
  let tail = "";
  for await (const chunk of res.body) {
    if (Number.isNaN(firstToken)) {
      // Keep a little of the previous chunk: an event may be split across reads.
      const text = tail + decoder.decode(chunk, { stream: true });
      if (TEXT_DELTA.test(text)) firstToken = performance.now() - started;
      tail = text.slice(-64);
    }
  }
  return [firstToken, performance.now() - started];
}

if (import.meta.main) {
  const spec = JSON.parse(await Deno.readTextFile(Deno.args[0])) as Spec;
  const ttftMs: number[] = [];
  const ttltMs: number[] = [];
  let errors = 0;
  let lastError = "";
  const t0 = performance.now();
  const warmup = spec.warmup ?? 0;
  for (let i = 0; i < warmup + spec.count; i++) {
    let started = performance.now();
    if (spec.rate) {
      const due = t0 + (i * 1000) / spec.rate;
      if (due > started) await new Promise((r) => setTimeout(r, due - started));
      started = due;
    }
    try {
      const [ttft, ttlt] = await timeOne(spec, started);
      if (i < warmup) continue;
      ttftMs.push(ttft);
      ttltMs.push(ttlt);
    } catch (error) {
      errors++;
      lastError = (error as Error).message;
    }
  }
  console.log(JSON.stringify({ ttftMs, ttltMs, errors, lastError }));
}
