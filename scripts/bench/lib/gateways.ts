/**
 * The gateway contenders of scenarios 2 and 3, all in front of the same fake OpenAI-compatible
 * upstream (scripts/bench/servers/fake_openai.ts): the upstream hit directly, the bare
 * pass-through proxy (scripts/bench/servers/bare_proxy.ts: the least a Deno server in between
 * adds), this server's /v1/chat/completions proxying to it (cost tracking and the shipped tracing
 * on, spans exported to the benchmark collector), and the open-source Portkey gateway (npm
 * @portkey-ai/gateway under Node) pointed at it with `x-portkey-custom-host`.
 */
import type { BenchContext } from "./context.ts";
import { type Collector, startCollector } from "./collector.ts";
import type { Target } from "./load.ts";
import { freePort, startProcess, waitReady } from "./processes.ts";
import { type RunningServer, startApp, startBenchServer } from "./servers.ts";
import { SHIPPED_TRACING } from "../scenarios/tracing.ts";

/** Who answers. */
export type GatewayKind = "direct" | "proxy" | "gateway" | "portkey";

/** The running contenders. */
export interface Gateways {
  readonly upstream: RunningServer;
  /** The bare pass-through proxy, pinned as this gateway is. */
  readonly proxy: RunningServer;
  readonly gateway: RunningServer;
  readonly portkey?: RunningServer;
  readonly collector: Collector;
  /** Why Portkey is missing or cannot stream, when it is or cannot. */
  readonly portkeyProblems: { start?: string; stream?: string };
  stop(): Promise<void>;
}

/** The model every request names; the providers file routes it to the fake upstream. */
export const MODEL = "gpt-4o-mini";

/** Writes a providers file that routes {@link MODEL} to `upstreamUrl`; returns its path. */
export async function writeProvidersFile(ctx: BenchContext, upstreamUrl: string): Promise<string> {
  const path = `${ctx.workDir}/providers-${crypto.randomUUID()}.json`;
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      providers: [{
        name: "bench-upstream",
        protocol: "openai",
        base_url: `${upstreamUrl}/v1`,
        models: [MODEL],
      }],
    }),
  );
  return path;
}

/** Starts the fake upstream, the bare proxy, this gateway and (when installed) Portkey. */
export async function startGateways(ctx: BenchContext): Promise<Gateways> {
  const started: RunningServer[] = [];
  const collector = await startCollector(ctx.root, ctx.workDir, ctx.cpus.load);
  try {
    // The upstream stands in for a provider on another machine: it shares the load tool's CPU.
    const upstream = await startBenchServer(
      ctx,
      "fake-upstream",
      "scripts/bench/servers/fake_openai.ts",
      {},
      { cpus: ctx.cpus.load },
    );
    started.push(upstream);
    const proxy = await startBenchServer(ctx, "proxy", "scripts/bench/servers/bare_proxy.ts", {
      UPSTREAM_URL: upstream.url,
    });
    started.push(proxy);
    const providersFile = await writeProvidersFile(ctx, upstream.url);
    const gateway = await startApp(ctx, "gateway", {
      ...SHIPPED_TRACING.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
      PROVIDERS_FILE: providersFile,
    }, { profile: ctx.profile === "gateway", readyPath: "/health" });
    started.push(gateway);
    const portkeyProblems: { start?: string; stream?: string } = {};
    let portkey: RunningServer | undefined;
    if (!ctx.tools.portkey) {
      portkeyProblems.start = "not installed (scripts/bench/install-tools.sh)";
    } else {
      try {
        portkey = await startPortkey(ctx, ctx.tools.portkey);
        started.push(portkey);
        portkeyProblems.stream = await probeStream(chatTarget("portkey", {
          upstream,
          gateway,
          portkey,
        }, { stream: true, maxTokens: 4 }));
      } catch (error) {
        portkeyProblems.start = (error as Error).message.split("\n")[0];
      }
    }
    return {
      upstream,
      proxy,
      gateway,
      portkey,
      collector,
      portkeyProblems,
      async stop() {
        for (const s of started.reverse()) await s.process.stop();
        await collector.stop();
      },
    };
  } catch (error) {
    for (const s of started.reverse()) await s.process.stop();
    await collector.stop();
    throw error;
  }
}

async function startPortkey(ctx: BenchContext, script: string): Promise<RunningServer> {
  const port = freePort();
  const process = startProcess({
    name: "portkey",
    command: "node",
    args: [script, `--port=${port}`, "--headless"],
    env: { ...Deno.env.toObject(), NO_COLOR: "1" },
    cwd: ctx.workDir,
    cpus: ctx.cpus.server,
    logDir: ctx.workDir,
  });
  const url = `http://127.0.0.1:${port}`;
  const readyMs = await waitReady(process, `${url}/`);
  return { name: "portkey", url, process, readyMs };
}

/** Undefined when a streamed request through `target` works, else what went wrong. */
async function probeStream(target: Target): Promise<string | undefined> {
  try {
    const res = await fetch(target.url, {
      method: target.method,
      headers: target.headers,
      body: target.body,
    });
    const text = await res.text();
    if (res.status === 200 && text.includes("[DONE]")) return undefined;
    return `HTTP ${res.status}: ${text.slice(0, 120)}`;
  } catch (error) {
    return (error as Error).message;
  }
}

/** The chat request a contender receives. */
export function chatTarget(
  kind: GatewayKind,
  g: Pick<Gateways, "upstream" | "gateway" | "portkey"> & Partial<Pick<Gateways, "proxy">>,
  opts: { stream: boolean; maxTokens: number; includeUsage?: boolean },
): Target {
  const body = JSON.stringify({
    model: MODEL,
    messages: [{ role: "user", content: "Explain transformers in 3 sentences" }],
    max_tokens: opts.maxTokens,
    ...(opts.stream ? { stream: true } : {}),
    ...(opts.includeUsage ? { stream_options: { include_usage: true } } : {}),
  });
  const json = { "content-type": "application/json" };
  switch (kind) {
    case "direct":
      return { url: `${g.upstream.url}/v1/chat/completions`, method: "POST", headers: json, body };
    case "proxy":
      if (!g.proxy) throw new Error("the bare proxy is not running");
      return { url: `${g.proxy.url}/v1/chat/completions`, method: "POST", headers: json, body };
    case "gateway":
      return {
        url: `${g.gateway.url}/v1/chat/completions`,
        method: "POST",
        headers: { ...json, "x-tenant-id": "team-search" },
        body,
      };
    case "portkey":
      if (!g.portkey) throw new Error("Portkey is not running");
      return {
        url: `${g.portkey.url}/v1/chat/completions`,
        method: "POST",
        headers: {
          ...json,
          authorization: "Bearer sk-bench-not-a-key",
          "x-portkey-provider": "openai",
          "x-portkey-custom-host": `${g.upstream.url}/v1`,
        },
        body,
      };
  }
}
