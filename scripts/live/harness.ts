/**
 * The live page's test server and the one function that sends it requests. Until the gateway
 * publishes to the live hub, the server is scripts/live/server.ts and "sending a
 * request" means handing it a finished request to publish; once wired, only `startLiveServer`
 * and `send` change (start src/main.ts, POST real requests and read their bodies).
 */
import type { RequestSpec } from "./server.ts";

export type { RequestSpec };

/** A finished request as its sender saw it: the numbers the page must show. */
export interface SentRequest {
  readonly requestId: string;
  readonly tenant: string;
  readonly model: string;
  /** Exact cost in picodollars, or null when unpriced. */
  readonly costPico: string | null;
}

/** A running test server. */
export interface LiveServer {
  readonly url: string;
  readonly port: number;
  /** Sends requests one after another; resolves with what each one cost. */
  send(specs: readonly RequestSpec[]): Promise<SentRequest[]>;
  /** Stops the server (SIGKILL by default: an abrupt end, as a crash). */
  stop(signal?: Deno.Signal): Promise<void>;
}

/** Options of {@link startLiveServer}. */
export interface LiveServerOptions {
  /** Listen on this port (a restart keeps the page's origin); a free one when absent. */
  readonly port?: number;
  readonly env?: Record<string, string>;
}

/** Starts the live test server on 127.0.0.1 and waits until it listens. */
export async function startLiveServer(options: LiveServerOptions = {}): Promise<LiveServer> {
  const entry = new URL("./server.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", "--allow-read", "--allow-write", "--allow-env", entry],
    env: { PORT: String(options.port ?? 0), NO_COLOR: "1", ...options.env },
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const nextLine = async (): Promise<Record<string, unknown>> => {
    for (;;) {
      const nl = buffer.indexOf("\n");
      if (nl !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        return JSON.parse(line);
      }
      const { value, done } = await lines.read();
      if (done) throw new Error("live test server exited");
      buffer += value;
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const listening = await Promise.race([
    nextLine(),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error("live test server did not listen in 30 s")),
        30_000,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  const url = String(listening.url);
  const encoder = new TextEncoder();
  let stopped = false;
  return {
    url,
    port: Number(new URL(url).port),
    async send(specs) {
      const sent: SentRequest[] = [];
      for (const spec of specs) {
        await writer.write(encoder.encode(JSON.stringify(spec) + "\n"));
        const { published } = await nextLine() as {
          published: { request_id: string; tenant: string; model: string; cost_pico: string };
        };
        sent.push({
          requestId: published.request_id,
          tenant: published.tenant,
          model: published.model,
          costPico: published.cost_pico,
        });
      }
      return sent;
    },
    async stop(signal: Deno.Signal = "SIGKILL") {
      if (stopped) return;
      stopped = true;
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      await child.status;
      await writer.close().catch(() => {});
      await lines.cancel().catch(() => {});
    },
  };
}
