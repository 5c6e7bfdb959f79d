/**
 * A lean OpenAI-compatible upstream for the gateway benchmarks: POST /v1/chat/completions answers
 * at once with `max_tokens` tokens of text (default 16), as one JSON completion or, with
 * `stream: true`, as one SSE chunk per token — then a usage chunk when the client asked for
 * `stream_options.include_usage` — then `[DONE]`. Answers are built once per length and reused,
 * and nothing is recorded, so the upstream costs the same for every contender and stays small.
 * Listens on PORT (127.0.0.1). GET /health answers 200.
 */
const port = Number(Deno.env.get("PORT") ?? "0");
const encoder = new TextEncoder();
const MAX_TOKENS = 4096;
const PROMPT_TOKENS = 12;

interface Answer {
  readonly json: Uint8Array<ArrayBuffer>;
  readonly chunks: readonly Uint8Array[];
  readonly usageChunk: Uint8Array;
}

const answers = new Map<string, Answer>();
const DONE = encoder.encode("data: [DONE]\n\n");

function answerFor(model: string, tokens: number): Answer {
  const key = `${model}\n${tokens}`;
  let answer = answers.get(key);
  if (answer) return answer;
  const words = Array.from({ length: tokens }, (_, i) => (i === 0 ? "token" : " token"));
  const usage = {
    prompt_tokens: PROMPT_TOKENS,
    completion_tokens: tokens,
    total_tokens: PROMPT_TOKENS + tokens,
  };
  const base = { id: "chatcmpl-bench", created: 1_700_000_000, model };
  const json = encoder.encode(JSON.stringify({
    ...base,
    object: "chat.completion",
    choices: [{
      index: 0,
      message: { role: "assistant", content: words.join("") },
      finish_reason: "length",
    }],
    usage,
  }));
  const event = (body: unknown) => encoder.encode(`data: ${JSON.stringify(body)}\n\n`);
  const chunks = words.map((word, i) =>
    event({
      ...base,
      object: "chat.completion.chunk",
      choices: [{
        index: 0,
        delta: i === 0 ? { role: "assistant", content: word } : { content: word },
        finish_reason: i === words.length - 1 ? "length" : null,
      }],
    })
  );
  const usageChunk = event({ ...base, object: "chat.completion.chunk", choices: [], usage });
  answer = { json, chunks, usageChunk };
  answers.set(key, answer);
  return answer;
}

function stream(answer: Answer, withUsage: boolean): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < answer.chunks.length) {
        controller.enqueue(answer.chunks[i++]);
        return;
      }
      if (withUsage) controller.enqueue(answer.usageChunk);
      controller.enqueue(DONE);
      controller.close();
    },
  });
}

Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
  const { pathname } = new URL(req.url);
  if (req.method === "GET" && pathname === "/health") return new Response("ok");
  if (req.method !== "POST" || pathname !== "/v1/chat/completions") {
    await req.body?.cancel();
    return Response.json({ error: { message: "not found", type: "invalid_request_error" } }, {
      status: 404,
    });
  }
  const body = await req.json() as {
    model?: string;
    max_tokens?: number;
    max_completion_tokens?: number;
    stream?: boolean;
    stream_options?: { include_usage?: boolean };
  };
  const tokens = Math.min(
    MAX_TOKENS,
    Math.max(1, body.max_completion_tokens ?? body.max_tokens ?? 16),
  );
  const answer = answerFor(body.model ?? "gpt-4o-mini", tokens);
  if (!body.stream) {
    return new Response(answer.json, { headers: { "content-type": "application/json" } });
  }
  return new Response(stream(answer, body.stream_options?.include_usage === true), {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
  });
});
