/**
 * The live page's test server and the one function that sends it requests: the real server
 * (src/main.ts) on 127.0.0.1, served by the simulated model, and real requests on its model
 * routes. What each request cost is read from its response (the `x-inference-cost-usd` header, or
 * /v1/inference's `cost_usd`), exactly as a client would see it.
 */
import { isLosslessNumber, parse as parseLossless } from "lossless-json";
import { parseUsdPico } from "../../src/pricing/money.ts";

/** A request to send: who, which model and route, and about how many tokens. */
export interface RequestSpec {
  /** Sent as `x-request-id`, so the page's row can be found by it. */
  readonly requestId: string;
  /** The tenant: by its API key when the server has keys, else `x-tenant-id`. */
  readonly tenant: string;
  readonly model: string;
  readonly route?: "/v1/chat/completions" | "/v1/messages" | "/v1/responses" | "/v1/inference";
  /** About this many prompt tokens: the prompt is padded with one-token words. */
  readonly input: number;
  /** max_tokens: the simulated model writes up to this many. */
  readonly output: number;
  /** The prompt's own text (it must never appear on the page). */
  readonly prompt?: string;
  /** Sent as the trace id of a `traceparent`: the request's span joins that trace. */
  readonly traceId?: string;
}

/** A finished request as its sender saw it: the numbers the page must show. */
export interface SentRequest {
  readonly requestId: string;
  readonly tenant: string;
  readonly model: string;
  /** The HTTP status (429 for a budget refusal). */
  readonly status: number;
  /** Exact cost in picodollars, or null when nothing was billed. */
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
  /** The server's environment: TENANTS_FILE, LEDGER_URL (give a restart the same), … */
  readonly env?: Record<string, string>;
  /** Each tenant's API key, when the tenants file has keys. */
  readonly apiKeys?: Readonly<Record<string, string>>;
}

const ROOT = new URL("../../", import.meta.url).pathname;
const PADDING = "cost ";

/** Starts the server on 127.0.0.1 and waits until it listens. */
export async function startLiveServer(options: LiveServerOptions = {}): Promise<LiveServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-no-legacy-abort",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "--allow-sys",
      "src/main.ts",
    ],
    cwd: ROOT,
    env: {
      HOST: "127.0.0.1",
      PORT: String(options.port ?? 0),
      NO_COLOR: "1",
      // Replies of exactly max_tokens, at once: costs follow the spec, not a clock.
      SIM_MODE: "realistic",
      SIM_TTFT_MS: "0",
      SIM_TOKEN_MS: "0",
      ...options.env,
    },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // The server logs JSON lines to stderr.
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const logs: string[] = [];
  let buffer = "";
  const { promise: listening, resolve: resolveUrl } = Promise.withResolvers<string>();
  // Read every log line (the pipe must never fill), and find the `listening` one.
  const reading = (async () => {
    for (;;) {
      const { value, done } = await lines.read();
      if (done) return;
      buffer += value;
      let nl;
      while ((nl = buffer.indexOf("\n")) !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        logs.push(line);
        if (logs.length > 200) logs.shift();
        try {
          const parsed = JSON.parse(line);
          if (parsed.msg === "listening") resolveUrl(parsed.url);
        } catch { /* not a JSON log line */ }
      }
    }
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const url = await Promise.race([
    listening,
    child.status.then((s) => {
      throw new Error(`server exited with ${s.code} before listening:\n${logs.join("\n")}`);
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("server did not listen in 30 s")), 30_000);
    }),
  ]).catch((error) => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    throw error;
  }).finally(() => clearTimeout(timer));
  let stopped = false;
  return {
    url,
    port: Number(new URL(url).port),
    async send(specs) {
      const sent: SentRequest[] = [];
      for (const spec of specs) sent.push(await sendOne(url, spec, options.apiKeys));
      return sent;
    },
    async stop(signal: Deno.Signal = "SIGKILL") {
      if (stopped) return;
      stopped = true;
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      await child.status;
      await reading.catch(() => {});
    },
  };
}

/** Sends one request and reads what it cost from its response. */
async function sendOne(
  url: string,
  spec: RequestSpec,
  apiKeys: Readonly<Record<string, string>> | undefined,
): Promise<SentRequest> {
  const route = spec.route ?? "/v1/chat/completions";
  const prompt = (spec.prompt ?? "question") + " " +
    PADDING.repeat(Math.max(0, spec.input - 10)).trimEnd();
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-request-id": spec.requestId,
  };
  const key = apiKeys?.[spec.tenant];
  if (key) headers.authorization = `Bearer ${key}`;
  else headers["x-tenant-id"] = spec.tenant;
  if (spec.traceId) headers.traceparent = `00-${spec.traceId}-00f067aa0ba902b7-01`;
  const messages = [{ role: "user", content: prompt }];
  const body = route === "/v1/inference"
    ? { prompt, model: spec.model, max_tokens: spec.output }
    : route === "/v1/responses"
    ? { model: spec.model, input: prompt, max_output_tokens: spec.output }
    : { model: spec.model, messages, max_tokens: spec.output };
  const res = await fetch(`${url}${route}`, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200 && res.status !== 429) {
    throw new Error(`${route} answered ${res.status}: ${text.slice(0, 300)}`);
  }
  return {
    requestId: res.headers.get("x-request-id") ?? spec.requestId,
    tenant: spec.tenant,
    model: spec.model,
    status: res.status,
    costPico: res.status === 200 ? costOf(res, text) : null,
  };
}

/** The exact cost a response states, in picodollars, as a decimal string. */
function costOf(res: Response, text: string): string {
  const header = res.headers.get("x-inference-cost-usd");
  // /v1/inference states it in the body: read the number token itself, every digit.
  const stated = header ?? (() => {
    const cost = (parseLossless(text) as { cost_usd?: unknown }).cost_usd;
    return isLosslessNumber(cost) ? cost.value : null;
  })();
  const pico = stated === null ? null : parseUsdPico(stated);
  if (pico === null) throw new Error(`no exact cost in the response: ${text.slice(0, 200)}`);
  return pico.toString();
}
