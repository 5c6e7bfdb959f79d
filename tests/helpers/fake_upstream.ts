/**
 * The one fake upstream provider of the tests: OpenAI's `/v1/chat/completions`, `/v1/responses`
 * (and `/v1/responses/{id}`) and `/v1/embeddings`, Anthropic's `/v1/messages` and
 * `/v1/messages/count_tokens`, on a free port of 127.0.0.1, answering with known text and known
 * usage (fake_answers.ts; a test may set the usage), or misbehaving exactly as a test asks (an error status, a hang, a stream that
 * stalls, ends early, breaks its connection mid-body or turns to garbage). It is written on raw
 * TCP, one HTTP/1.1 request per connection, so each fault is exact on the wire (Deno.serve cannot
 * break a body mid-way without logging an error). It records every request it receives. Also
 * builds a gateway app routed to it and serves it on a free port, for the SDKs that need a URL.
 */
import { testApp } from "./app.ts";
import type { ServiceOverrides } from "../../src/services.ts";
import {
  framesThroughChunk,
  plainAnswer,
  protocolOf,
  type ReportedUsage,
  streamFrames,
} from "./fake_answers.ts";

export { ANTHROPIC_USAGE, OPENAI_USAGE, TEXT_CHUNKS } from "./fake_answers.ts";

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
  readonly method: string;
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
  /** The usage every answer reports, in the test vectors' terms; unset: the defaults. */
  reported?: ReportedUsage;
  /** Requests whose client (the gateway) went away before the answer ended. */
  aborted: number;
  stop(): Promise<void>;
}

/** The path prefix of {@link FakeUpstream.droppingBaseUrl}. */
const DROPPING = "/dropping";

const encoder = new TextEncoder();

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
    const [method, path] = head.split(" ");
    const json = decoder.decode(body.subarray(0, length));
    return { method, path, headers, body: json ? JSON.parse(json) : {} };
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
    const { method, headers, body } = received;
    state.requests.push({ method, path, headers, body });
    const behaviour: FakeBehaviour = dropping
      ? { ...state.behaviour, mode: "reset" }
      : state.behaviour;
    const key = headers["x-api-key"] ?? headers["authorization"]?.replace(/^Bearer /, "") ?? "";
    const asked = {
      path,
      method,
      body,
      reported: state.reported,
      usageInStream: behaviour.usageInStream,
    };

    if (behaviour.mode === "status") {
      const text = JSON.stringify(behaviour.errorBody ?? {}).replaceAll("$KEY", key);
      await write(conn, jsonResponse(behaviour.status ?? 500, text, behaviour.headers));
      return;
    }
    if (behaviour.mode === "hang") return await holdOpen(conn);
    const streamed = body.stream === true && protocolOf(path) !== "count_tokens";
    if (!streamed || behaviour.mode === "json") {
      const text = behaviour.mode === "garbage"
        ? '{"id": "chatcmpl-fake", "choices": [{"mess'
        : JSON.stringify(plainAnswer(asked));
      await write(conn, jsonResponse(200, text));
      return;
    }

    const frames = streamFrames(asked);
    const cut = behaviour.mode === "ok"
      ? frames.length
      : framesThroughChunk(path, behaviour.chunks ?? 2);
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
