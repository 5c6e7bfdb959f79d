/**
 * A misbehaving upstream provider for the gateway's fault tests, written on raw TCP so each fault
 * is exact: it speaks just enough HTTP/1.1 (one request per connection) for OpenAI's
 * `/v1/chat/completions` and Anthropic's `/v1/messages`, and its `mode` decides what it does.
 */

/** What the upstream does with the next requests. */
export type FlakyMode =
  | { readonly kind: "ok" }
  /** Answers `status` with a JSON error body. */
  | { readonly kind: "status"; readonly status: number }
  /** Accepts the request and never answers. */
  | { readonly kind: "hang" }
  /** Streams `chunks` text chunks, then closes the socket in the middle of the body. */
  | { readonly kind: "reset"; readonly chunks: number }
  /** Streams `chunks` text chunks, then holds the stream open, silent. */
  | { readonly kind: "stall"; readonly chunks: number }
  /** Answers 200 with a body that is not JSON; a stream gets `chunks` good chunks first. */
  | { readonly kind: "garbage"; readonly chunks: number };

/** The text a full answer carries, one stream chunk per piece. */
export const FLAKY_TEXT = ["Hello", " from", " the", " flaky", " upstream", "."];
/** Usage the upstream reports for a full OpenAI answer. */
export const FLAKY_OPENAI_USAGE = { prompt_tokens: 90, completion_tokens: 7, total_tokens: 97 };
/** Input usage the upstream reports in Anthropic's message_start. */
export const FLAKY_ANTHROPIC_INPUT = 40;
/** Output usage the upstream reports at the end of a full Anthropic answer. */
export const FLAKY_ANTHROPIC_OUTPUT = 7;

/** The running upstream. */
export interface FlakyUpstream {
  readonly url: string;
  mode: FlakyMode;
  /** Requests received, by path. */
  readonly received: { path: string; body: Record<string, unknown> }[];
  stop(): Promise<void>;
}

const encoder = new TextEncoder();

function openAiFrames(model: string): string[] {
  const chunk = (choices: unknown[], usage: unknown = null) =>
    `data: ${
      JSON.stringify({
        id: "chatcmpl-flaky",
        object: "chat.completion.chunk",
        created: 1_700_000_000,
        model,
        choices,
        usage,
      })
    }\n\n`;
  return [
    chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]),
    ...FLAKY_TEXT.map((text) =>
      chunk([{ index: 0, delta: { content: text }, finish_reason: null }])
    ),
    chunk([{ index: 0, delta: {}, finish_reason: "stop" }]),
    chunk([], FLAKY_OPENAI_USAGE),
    "data: [DONE]\n\n",
  ];
}

function anthropicFrames(model: string): string[] {
  const event = (type: string, data: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  return [
    event("message_start", {
      message: {
        id: "msg_flaky",
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: FLAKY_ANTHROPIC_INPUT, output_tokens: 1 },
      },
    }),
    event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
    ...FLAKY_TEXT.map((text) =>
      event("content_block_delta", { index: 0, delta: { type: "text_delta", text } })
    ),
    event("content_block_stop", { index: 0 }),
    event("message_delta", {
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: FLAKY_ANTHROPIC_OUTPUT },
    }),
    event("message_stop", {}),
  ];
}

/** Frames before the `n`-th text chunk has been sent, inclusive. */
function throughChunk(anthropic: boolean, n: number): number {
  return (anthropic ? 2 : 1) + n;
}

function completion(anthropic: boolean, model: string): unknown {
  const text = FLAKY_TEXT.join("");
  return anthropic
    ? {
      id: "msg_flaky",
      type: "message",
      role: "assistant",
      model,
      content: [{ type: "text", text }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: FLAKY_ANTHROPIC_INPUT, output_tokens: FLAKY_ANTHROPIC_OUTPUT },
    }
    : {
      id: "chatcmpl-flaky",
      object: "chat.completion",
      created: 1_700_000_000,
      model,
      choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
      usage: FLAKY_OPENAI_USAGE,
    };
}

async function readRequest(conn: Deno.Conn): Promise<{ path: string; body: string } | null> {
  const buf = new Uint8Array(64 * 1024);
  let bytes = new Uint8Array(0);
  const decoder = new TextDecoder();
  while (true) {
    const n = await conn.read(buf);
    if (n === null) return null;
    const joined = new Uint8Array(bytes.length + n);
    joined.set(bytes);
    joined.set(buf.subarray(0, n), bytes.length);
    bytes = joined;
    const text = decoder.decode(bytes);
    const headEnd = text.indexOf("\r\n\r\n");
    if (headEnd === -1) continue;
    const head = text.slice(0, headEnd);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    const bodyBytes = bytes.subarray(encoder.encode(head).length + 4);
    if (bodyBytes.length < length) continue;
    return { path: head.split(" ")[1], body: decoder.decode(bodyBytes.subarray(0, length)) };
  }
}

/** Starts the upstream on a free port of 127.0.0.1 in mode `ok`. */
export function startFlakyUpstream(): FlakyUpstream {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections = new Set<Deno.Conn>();
  const state: FlakyUpstream = {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    mode: { kind: "ok" },
    received: [],
    stop: async () => {},
  };
  const write = async (conn: Deno.Conn, text: string) => {
    const bytes = encoder.encode(text);
    let written = 0;
    while (written < bytes.length) written += await conn.write(bytes.subarray(written));
  };
  const chunked = (frame: string) => `${encoder.encode(frame).length.toString(16)}\r\n${frame}\r\n`;
  const json = (status: number, body: string) =>
    `HTTP/1.1 ${status} X\r\ncontent-type: application/json\r\n` +
    `content-length: ${encoder.encode(body).length}\r\nconnection: close\r\n\r\n${body}`;

  const answer = async (conn: Deno.Conn) => {
    const request = await readRequest(conn);
    if (!request) return;
    const body = JSON.parse(request.body) as Record<string, unknown>;
    state.received.push({ path: request.path, body });
    const mode = state.mode;
    const anthropic = request.path === "/v1/messages";
    const model = String(body.model);
    if (mode.kind === "hang") {
      await conn.read(new Uint8Array(1)).catch(() => null); // until the gateway gives up
      return;
    }
    if (mode.kind === "status") {
      const error = anthropic
        ? { type: "error", error: { type: "api_error", message: "upstream is having a bad day" } }
        : { error: { message: "upstream is having a bad day", type: "server_error" } };
      await write(conn, json(mode.status, JSON.stringify(error)));
      return;
    }
    if (body.stream !== true) {
      const text = mode.kind === "garbage"
        ? '{"id": "chatcmpl-flaky", "choices": [{"mess'
        : JSON.stringify(completion(anthropic, model));
      await write(conn, json(200, text));
      return;
    }
    const frames = anthropic ? anthropicFrames(model) : openAiFrames(model);
    await write(
      conn,
      "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n" +
        "connection: close\r\n\r\n",
    );
    const cut = mode.kind === "ok" ? frames.length : throughChunk(anthropic, mode.chunks);
    for (const frame of frames.slice(0, cut)) await write(conn, chunked(frame));
    if (mode.kind === "ok") {
      await write(conn, "0\r\n\r\n");
    } else if (mode.kind === "garbage") {
      await write(conn, chunked("data: {this is not json\n\n"));
      await conn.read(new Uint8Array(1)).catch(() => null);
    } else if (mode.kind === "stall") {
      await conn.read(new Uint8Array(1)).catch(() => null);
    }
    // "reset": return without the terminating chunk; the socket closes mid-body.
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      connections.add(conn);
      answer(conn).catch(() => {}).finally(() => {
        connections.delete(conn);
        try {
          conn.close();
        } catch { /* already closed */ }
      });
    }
  })();
  state.stop = async () => {
    listener.close();
    for (const conn of connections) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
    await accepting.catch(() => {});
  };
  return state;
}
