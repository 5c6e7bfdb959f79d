/**
 * The one fake upstream provider of the tests: OpenAI's `/v1/chat/completions` and Anthropic's
 * `/v1/messages` on a free port of 127.0.0.1, answering with known text and known usage (cached
 * tokens included), or misbehaving exactly as a test asks (an error status, a hang, a stream that
 * stalls, ends early, breaks its connection mid-body or turns to garbage). It is written on raw
 * TCP, one HTTP/1.1 request per connection, so each fault is exact on the wire (Deno.serve cannot
 * break a body mid-way without logging an error). It records every request it receives. Also
 * builds a gateway app routed to it and serves it on a free port, for the SDKs that need a URL.
 */
import { testApp } from "./app.ts";
import type { ServiceOverrides } from "../../src/services.ts";

/** The text every fake answer carries, in its stream chunks. */
export const TEXT_CHUNKS = ["Hello", " from", " the", " fake", " upstream."];

/** The usage the fake reports in OpenAI's shape: cached tokens inside prompt tokens. */
export const OPENAI_USAGE = {
  prompt_tokens: 1200,
  completion_tokens: 300,
  total_tokens: 1500,
  prompt_tokens_details: { cached_tokens: 1024 },
  completion_tokens_details: { reasoning_tokens: 100 },
};

/** The usage the fake reports in Anthropic's shape: cache reads and writes beside input. */
export const ANTHROPIC_USAGE = {
  input_tokens: 50,
  cache_read_input_tokens: 2000,
  cache_creation_input_tokens: 500,
  output_tokens: 120,
};

/** How the fake answers the next requests. */
export interface FakeBehaviour {
  /**
   * `ok` answers normally; `status` answers `status` with `errorBody`; `hang` never answers;
   * `json` answers a stream request with a JSON completion. For streams, after `chunks` text
   * chunks: `stall` holds the stream open, silent; `truncate` ends the body cleanly without the
   * protocol's end marker; `reset` closes the connection mid-body; `garbage` sends a frame that is
   * not JSON and then holds (a non-streamed `garbage` answer is cut-off JSON). The dropping base
   * URL always answers streams as `reset`.
   */
  readonly mode: "ok" | "status" | "hang" | "stall" | "truncate" | "reset" | "garbage" | "json";
  readonly status?: number;
  /** A body for `status`; the string `$KEY` in it is replaced by the key the request carried. */
  readonly errorBody?: unknown;
  readonly headers?: Record<string, string>;
  readonly chunks?: number;
  /** False: the stream never reports usage, whatever the client asked (older servers). */
  readonly usageInStream?: boolean;
}

/** A request the fake received. */
export interface ReceivedRequest {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Record<string, unknown>;
}

/** The running fake. */
export interface FakeUpstream {
  /** Base URL as OpenAI's SDK takes it (`…/v1`). */
  readonly openAiBaseUrl: string;
  /** Base URL as Anthropic's SDK takes it (no `/v1`). */
  readonly anthropicBaseUrl: string;
  /** Base URL (no `/v1`) under which every stream's connection is dropped mid-body. */
  readonly droppingBaseUrl: string;
  readonly requests: ReceivedRequest[];
  behaviour: FakeBehaviour;
  /** Requests whose client (the gateway) went away before the answer ended. */
  aborted: number;
  stop(): Promise<void>;
}

/** The path prefix of {@link FakeUpstream.droppingBaseUrl}. */
const DROPPING = "/dropping";

const encoder = new TextEncoder();

function openAiChunk(model: string, choices: unknown[], usage?: unknown): string {
  const body: Record<string, unknown> = {
    id: "chatcmpl-fake",
    object: "chat.completion.chunk",
    created: 1_700_000_000,
    model,
    choices,
  };
  if (usage !== undefined) body.usage = usage;
  return `data: ${JSON.stringify(body)}\n\n`;
}

function openAiFrames(body: Record<string, unknown>, behaviour: FakeBehaviour): string[] {
  const model = String(body.model);
  const options = body.stream_options as { include_usage?: boolean } | undefined;
  const withUsage = options?.include_usage === true && behaviour.usageInStream !== false;
  const usage = withUsage ? null : undefined;
  return [
    openAiChunk(model, [{ index: 0, delta: { role: "assistant", content: "" } }], usage),
    ...TEXT_CHUNKS.map((text) =>
      openAiChunk(model, [{ index: 0, delta: { content: text }, finish_reason: null }], usage)
    ),
    openAiChunk(model, [{ index: 0, delta: {}, finish_reason: "stop" }], usage),
    ...(withUsage ? [openAiChunk(model, [], OPENAI_USAGE)] : []),
    "data: [DONE]\n\n",
  ];
}

function anthropicEvent(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

function anthropicFrames(body: Record<string, unknown>): string[] {
  const { output_tokens, ...input } = ANTHROPIC_USAGE;
  return [
    anthropicEvent("message_start", {
      message: {
        id: "msg_fake",
        type: "message",
        role: "assistant",
        model: body.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...input, output_tokens: 1 },
      },
    }),
    anthropicEvent("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
    anthropicEvent("ping", {}),
    ...TEXT_CHUNKS.map((text) =>
      anthropicEvent("content_block_delta", { index: 0, delta: { type: "text_delta", text } })
    ),
    anthropicEvent("content_block_stop", { index: 0 }),
    anthropicEvent("message_delta", {
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens },
    }),
    anthropicEvent("message_stop", {}),
  ];
}

/** How many frames of a stream come before its `n`-th text chunk has been sent. */
function framesThroughChunk(anthropic: boolean, n: number): number {
  // OpenAI: the role chunk, then text chunks. Anthropic: message_start, content_block_start, ping.
  return (anthropic ? 3 : 1) + n;
}

function completion(path: string, body: Record<string, unknown>): unknown {
  const text = TEXT_CHUNKS.join("");
  if (path === "/v1/messages") {
    return {
      id: "msg_fake",
      type: "message",
      role: "assistant",
      model: body.model,
      content: [{ type: "text", text }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: ANTHROPIC_USAGE,
    };
  }
  return {
    id: "chatcmpl-fake",
    object: "chat.completion",
    created: 1_700_000_000,
    model: body.model,
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
    usage: OPENAI_USAGE,
  };
}

/** One request as read off the socket. */
async function readRequest(conn: Deno.Conn): Promise<ReceivedRequest | null> {
  const buffer = new Uint8Array(64 * 1024);
  let bytes = new Uint8Array(0);
  const decoder = new TextDecoder();
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) return null;
    const joined = new Uint8Array(bytes.length + n);
    joined.set(bytes);
    joined.set(buffer.subarray(0, n), bytes.length);
    bytes = joined;
    const text = decoder.decode(bytes);
    const headEnd = text.indexOf("\r\n\r\n");
    if (headEnd === -1) continue;
    const head = text.slice(0, headEnd);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    const body = bytes.subarray(encoder.encode(head).length + 4);
    if (body.length < length) continue;
    const headers = Object.fromEntries(
      head.split("\r\n").slice(1).map((line) => {
        const colon = line.indexOf(":");
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
      }),
    );
    return {
      path: head.split(" ")[1],
      headers,
      body: JSON.parse(decoder.decode(body.subarray(0, length))),
    };
  }
}

async function write(conn: Deno.Conn, text: string): Promise<void> {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

function jsonResponse(status: number, body: string, headers: Record<string, string> = {}): string {
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("");
  return `HTTP/1.1 ${status} Fake\r\ncontent-type: application/json\r\n` +
    `content-length: ${encoder.encode(body).length}\r\nconnection: close\r\n${extra}\r\n${body}`;
}

const chunked = (frame: string) => `${encoder.encode(frame).length.toString(16)}\r\n${frame}\r\n`;

/** Resolves when the peer closes the connection (or it is closed at stop). */
async function peerClosed(conn: Deno.Conn): Promise<void> {
  const one = new Uint8Array(1);
  while (await conn.read(one).catch(() => null) !== null) { /* ignore what it sends */ }
}

/** Starts the fake on a free port. */
export function startFakeUpstream(): FakeUpstream {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const base = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  const connections = new Set<Deno.Conn>();
  const state: FakeUpstream = {
    openAiBaseUrl: `${base}/v1`,
    anthropicBaseUrl: base,
    droppingBaseUrl: `${base}${DROPPING}`,
    requests: [],
    behaviour: { mode: "ok" },
    aborted: 0,
    stop: async () => {},
  };
  let stopping = false;
  /** Holds the answer open until the gateway goes away, and counts that. */
  const holdOpen = async (conn: Deno.Conn) => {
    await peerClosed(conn);
    if (!stopping) state.aborted++;
  };

  const answer = async (conn: Deno.Conn) => {
    const received = await readRequest(conn);
    if (!received) return;
    const dropping = received.path.startsWith(DROPPING);
    const path = dropping ? received.path.slice(DROPPING.length) : received.path;
    const { headers, body } = received;
    state.requests.push({ path, headers, body });
    const behaviour: FakeBehaviour = dropping
      ? { ...state.behaviour, mode: "reset" }
      : state.behaviour;
    const key = headers["x-api-key"] ?? headers["authorization"]?.replace(/^Bearer /, "") ?? "";
    const anthropic = path === "/v1/messages";

    if (behaviour.mode === "status") {
      const text = JSON.stringify(behaviour.errorBody ?? {}).replaceAll("$KEY", key);
      await write(conn, jsonResponse(behaviour.status ?? 500, text, behaviour.headers));
      return;
    }
    if (behaviour.mode === "hang") return await holdOpen(conn);
    if (body.stream !== true || behaviour.mode === "json") {
      const text = behaviour.mode === "garbage"
        ? '{"id": "chatcmpl-fake", "choices": [{"mess'
        : JSON.stringify(completion(path, body));
      await write(conn, jsonResponse(200, text));
      return;
    }

    const frames = anthropic ? anthropicFrames(body) : openAiFrames(body, behaviour);
    const cut = behaviour.mode === "ok"
      ? frames.length
      : framesThroughChunk(anthropic, behaviour.chunks ?? 2);
    await write(
      conn,
      "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n" +
        "connection: close\r\n\r\n" + frames.slice(0, cut).map(chunked).join(""),
    );
    switch (behaviour.mode) {
      case "ok":
      case "truncate":
        return await write(conn, "0\r\n\r\n");
      case "garbage":
        await write(conn, chunked("data: {this is not json\n\n"));
        return await holdOpen(conn);
      case "stall":
        return await holdOpen(conn);
      case "reset":
        return; // the socket closes without the terminating chunk: the body breaks mid-way
    }
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
    stopping = true;
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

/** The key the gateway is configured with for the fake; tests prove it never leaks. */
export const UPSTREAM_KEY = "sk-fake-UPSTREAM-SECRET-4f1c9e27b3a84d06";

/** A providers file routing models to the fake: OpenAI ones and Anthropic ones. */
export function fakeProviders(fake: FakeUpstream, extra: unknown[] = []) {
  return {
    unrouted_models: "simulated",
    providers: [
      {
        name: "openai",
        protocol: "openai",
        base_url: fake.openAiBaseUrl,
        api_key_env: "FAKE_UPSTREAM_KEY",
        models: { "gpt-4o-mini": "gpt-4o-mini-2024-07-18", "gpt-4o": "gpt-4o" },
      },
      {
        name: "anthropic",
        protocol: "anthropic",
        base_url: fake.anthropicBaseUrl,
        api_key_env: "FAKE_UPSTREAM_KEY",
        models: { "claude-3.5-sonnet": "claude-3-5-sonnet-20241022" },
      },
      {
        name: "dropping-openai",
        protocol: "openai",
        base_url: `${fake.droppingBaseUrl}/v1`,
        models: ["gpt-4.1-mini"],
      },
      {
        name: "dropping-anthropic",
        protocol: "anthropic",
        base_url: fake.droppingBaseUrl,
        models: ["claude-3.5-haiku"],
      },
      ...extra,
    ],
  };
}

/** A gateway app routed by `providers`, served on a free port of 127.0.0.1. */
export async function startGateway(
  providers: unknown,
  env: Record<string, string> = {},
  overrides: ServiceOverrides = {},
) {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  let t;
  try {
    await Deno.writeTextFile(path, JSON.stringify(providers));
    t = testApp({ PROVIDERS_FILE: path, FAKE_UPSTREAM_KEY: UPSTREAM_KEY, ...env }, overrides);
  } finally {
    await Deno.remove(path);
  }
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, t.app.fetch);
  return {
    ...t,
    url: `http://127.0.0.1:${server.addr.port}`,
    stop: () => server.shutdown(),
  };
}
