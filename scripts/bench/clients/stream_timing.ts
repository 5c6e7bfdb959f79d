/**
 * One client timing streamed chat completions, run as its own (pinned) process: sends `count`
 * requests one after another and, for each, measures the time from sending to the first SSE event
 * carrying text (time to first token) and to the end of the stream (time to last token).
 * Prints one JSON object: `{ "ttftMs": [...], "ttltMs": [...], "errors": n, "cpuSeconds": s }`.
 *
 * Usage: deno run --allow-net --allow-read stream_timing.ts <spec.json>
 * where spec.json is `{ "url", "headers", "body", "count" }`.
 */

interface Spec {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly count: number;
}

const decoder = new TextDecoder();
// A text delta: `"content":"` followed by at least one character of text.
const TEXT_DELTA = /"content":"(?:[^"\\]|\\.)/;

/** Times one streamed request; throws on a non-200 answer. */
async function timeOne(spec: Spec): Promise<[number, number]> {
  const started = performance.now();
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
  for (let i = 0; i < spec.count; i++) {
    try {
      const [ttft, ttlt] = await timeOne(spec);
      ttftMs.push(ttft);
      ttltMs.push(ttlt);
    } catch (error) {
      errors++;
      lastError = (error as Error).message;
    }
  }
  console.log(JSON.stringify({ ttftMs, ttltMs, errors, lastError }));
}
