/**
 * A fake upstream provider for gateway tests: OpenAI's `/v1/chat/completions` and Anthropic's
 * `/v1/messages` on a free port of 127.0.0.1, answering with known text and known usage (cached
 * tokens included), or misbehaving as a test asks (an error status, a hang, a stream that stalls
 * or ends early). A second, raw TCP listener answers every stream by dropping the connection
 * mid-body, as a crashed upstream does. It records every request it receives. Also builds a gateway
 * app routed to it and serves it on a free port, for the official SDKs that need a real URL.
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
   * `stall` streams `chunks` text chunks then holds the stream open; `truncate` streams `chunks`
   * text chunks then ends the body cleanly, without the protocol's end marker; `json` answers a
   * stream request with a JSON completion. (The raw listener always drops after `chunks`.)
   */
  readonly mode: "ok" | "status" | "hang" | "stall" | "truncate" | "json";
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
  /** Base URL (no `/v1`) of the listener that drops every stream's connection mid-body. */
  readonly droppingBaseUrl: string;
  readonly requests: ReceivedRequest[];
  behaviour: FakeBehaviour;
  /** Requests whose client (the gateway) went away before the answer ended. */
  aborted: number;
  stop(): Promise<void>;
}

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

/** Starts the fake on a free port. */
export function startFakeUpstream(): FakeUpstream {
  const open = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const state: FakeUpstream = {
    openAiBaseUrl: "",
    anthropicBaseUrl: "",
    droppingBaseUrl: "",
    requests: [],
    behaviour: { mode: "ok" },
    aborted: 0,
    stop: async () => {},
  };
  const serve = async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname;
    const body = await request.json() as Record<string, unknown>;
    state.requests.push({ path, headers: Object.fromEntries(request.headers), body });
    const behaviour = state.behaviour;
    const key = request.headers.get("x-api-key") ??
      request.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
    const anthropic = path === "/v1/messages";

    if (behaviour.mode === "status") {
      const text = JSON.stringify(behaviour.errorBody ?? {}).replaceAll("$KEY", key);
      return new Response(text, {
        status: behaviour.status ?? 500,
        headers: { "content-type": "application/json", ...behaviour.headers },
      });
    }
    if (behaviour.mode === "hang") {
      await new Promise((resolve) => request.signal.addEventListener("abort", resolve));
      state.aborted++;
      return new Response(null, { status: 499 });
    }
    if (body.stream !== true || behaviour.mode === "json") {
      return Response.json(completion(path, body));
    }

    const frames = anthropic ? anthropicFrames(body) : openAiFrames(body, behaviour);
    const cut = behaviour.mode === "ok"
      ? frames.length
      : framesThroughChunk(anthropic, behaviour.chunks ?? 2);
    let finished = false;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        open.add(controller);
        for (const frame of frames.slice(0, cut)) controller.enqueue(encoder.encode(frame));
        if (behaviour.mode === "ok") {
          finished = true;
          open.delete(controller);
          controller.close();
        } else if (behaviour.mode === "truncate") {
          finished = true;
          open.delete(controller);
          controller.close();
        }
        request.signal.addEventListener("abort", () => {
          if (finished) return;
          finished = true;
          state.aborted++;
          open.delete(controller);
          controller.close();
        });
      },
      cancel() {
        if (!finished) state.aborted++;
        finished = true;
      },
    });
    return new Response(stream, { headers: { "content-type": "text/event-stream" } });
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, serve);
  const base = `http://127.0.0.1:${server.addr.port}`;
  const dropping = startDroppingListener(state);
  return Object.assign(state, {
    openAiBaseUrl: `${base}/v1`,
    anthropicBaseUrl: base,
    droppingBaseUrl: dropping.url,
    async stop() {
      await dropping.stop();
      for (const controller of open) {
        try {
          controller.close();
        } catch { /* already closed */ }
      }
      open.clear();
      await server.shutdown();
    },
  });
}

/**
 * A raw HTTP/1.1 listener that answers each request with a chunked event stream and closes the
 * socket after `behaviour.chunks` text chunks, before the terminating chunk: the client sees the
 * connection break mid-body. (Deno.serve cannot do this without logging an error.)
 */
function startDroppingListener(state: FakeUpstream) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections = new Set<Deno.Conn>();
  const decoder = new TextDecoder();
  const answer = async (conn: Deno.Conn) => {
    const buffer = new Uint8Array(1 << 16);
    let received = "";
    let headerEnd = -1;
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) return;
      received += decoder.decode(buffer.subarray(0, n), { stream: true });
      headerEnd = received.indexOf("\r\n\r\n");
      if (headerEnd === -1) continue;
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(received)?.[1] ?? 0);
      if (new TextEncoder().encode(received.slice(headerEnd + 4)).length >= length) break;
    }
    const [, path] = received.split(" ");
    const body = JSON.parse(received.slice(headerEnd + 4)) as Record<string, unknown>;
    const headers = Object.fromEntries(
      received.slice(0, headerEnd).split("\r\n").slice(1).map((line) => {
        const colon = line.indexOf(":");
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
      }),
    );
    state.requests.push({ path, headers, body });
    const anthropic = path === "/v1/messages";
    const frames = anthropic ? anthropicFrames(body) : openAiFrames(body, state.behaviour);
    const sent = frames.slice(0, framesThroughChunk(anthropic, state.behaviour.chunks ?? 2));
    let wire = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n" +
      "transfer-encoding: chunked\r\n\r\n";
    for (const frame of sent) {
      wire += `${new TextEncoder().encode(frame).length.toString(16)}\r\n${frame}\r\n`;
    }
    await conn.write(new TextEncoder().encode(wire));
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
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    async stop() {
      listener.close();
      for (const conn of connections) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
      await accepting.catch(() => {});
    },
  };
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

/** Polls `check` every 10 ms until it returns true, failing after `timeoutMs`. */
export async function eventually(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
