/**
 * Starts the real server as a subprocess on a free port of 127.0.0.1 and an OTLP/HTTP JSON
 * receiver for its spans. Used by tests/e2e only; everything stops in `stop()`.
 */
import { todaysPriceFile } from "./prices.ts";

/** A decoded span from an OTLP JSON export. */
export interface ReceivedSpan {
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly attributes: Record<string, string | number | boolean>;
  readonly status: number;
  readonly resource: Record<string, string | number | boolean>;
}

type OtlpValue = {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
};
type OtlpAttr = { key: string; value: OtlpValue };

function decodeAttributes(attrs: OtlpAttr[] = []): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of attrs) {
    if (value.stringValue !== undefined) out[key] = value.stringValue;
    else if (value.intValue !== undefined) out[key] = Number(value.intValue);
    else if (value.doubleValue !== undefined) out[key] = value.doubleValue;
    else if (value.boolValue !== undefined) out[key] = value.boolValue;
  }
  return out;
}

/** An OTLP/HTTP JSON trace receiver on a free port. */
export function startOtlpReceiver() {
  const spans: ReceivedSpan[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    if (req.method === "POST" && url.pathname === "/v1/traces") {
      const body = await req.json();
      for (const rs of body.resourceSpans ?? []) {
        const resource = decodeAttributes(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              name: s.name,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? "",
              attributes: decodeAttributes(s.attributes),
              status: s.status?.code ?? 0,
              resource,
            });
          }
        }
      }
      return Response.json({});
    }
    await req.body?.cancel();
    return Response.json({});
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    spans,
    stop: () => server.shutdown(),
  };
}

/** The server as a child process. */
export interface RunningServer {
  readonly url: string;
  readonly process: Deno.ChildProcess;
  readonly logs: string[];
  /** Sends SIGTERM and waits for the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
}

/**
 * Starts `src/main.ts` with `env` on a free port and waits until it listens. Without a
 * PRICING_FILE in `env` it prices with the shipped table dated today (tests/helpers/prices.ts);
 * without a LEDGER_URL it records into its own ledger in a temporary folder, removed by `stop()`
 * (a test that restarts a server on one ledger passes LEDGER_URL itself).
 */
export async function startServer(env: Record<string, string> = {}): Promise<RunningServer> {
  const root = new URL("../../", import.meta.url).pathname;
  const prices = env.PRICING_FILE === undefined ? await todaysPriceFile() : undefined;
  const ledgerDir = env.LEDGER_URL === undefined
    ? await Deno.makeTempDir({ prefix: "server-ledger-" })
    : undefined;
  const cleanUp = async () => {
    await prices?.remove();
    if (ledgerDir) await Deno.remove(ledgerDir, { recursive: true }).catch(() => {});
  };
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-no-legacy-abort",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      // The ledger's file, wherever LEDGER_URL points (as `deno task start` allows).
      "--allow-write",
      "--allow-sys",
      "src/main.ts",
    ],
    cwd: root,
    env: {
      PORT: "0",
      HOST: "127.0.0.1",
      NO_COLOR: "1",
      ...(prices ? { PRICING_FILE: prices.path } : {}),
      ...(ledgerDir ? { LEDGER_URL: `sqlite:${ledgerDir}/ledger.sqlite` } : {}),
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
  });
  const process = command.spawn();
  const logs: string[] = [];
  let resolveUrl: (url: string) => void;
  const urlPromise = new Promise<string>((r) => resolveUrl = r);
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    let buffer = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf("\n")) !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        logs.push(line);
        try {
          const parsed = JSON.parse(line);
          if (parsed.msg === "listening") resolveUrl(parsed.url);
        } catch { /* not a JSON log line */ }
      }
    }
  };
  const done = Promise.all([collect(process.stdout), collect(process.stderr)]);
  const exited = process.status;
  const url = await Promise.race([
    urlPromise,
    exited.then((s) => {
      throw new Error(`server exited with ${s.code} before listening:\n${logs.join("\n")}`);
    }),
    new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`server did not listen in 30 s:\n${logs.join("\n")}`)),
        30_000,
      )
    ),
  ]).catch(async (error) => {
    await cleanUp();
    throw error;
  });
  return {
    url,
    process,
    logs,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        process.kill(signal);
      } catch { /* already gone */ }
      const status = await exited;
      await done;
      await cleanUp();
      return status.code;
    },
  };
}
