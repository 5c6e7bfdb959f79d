/**
 * Scenario 3, streaming: time to first token and to last token of a 500-token stream, the fake
 * upstream direct against this gateway (and Portkey when it can stream). One client
 * (scripts/bench/clients/stream_timing.ts, its own pinned process) sends the requests one after
 * another; contenders alternate by blocks, rotated each round. The client's own cost is the same
 * for every contender, so the differences are what each gateway adds.
 *
 * Then the tail: one client at 200 streams/s of 16 chunks and a usage chunk, each time to first
 * token measured from when the request was due, and the p99 the gateway (and, for comparison, the
 * bare pass-through proxy) adds to the direct upstream's in the same round (the relay's
 * garbage-collection pauses show here, not at p50).
 */
import { type BenchContext, type Scenario, signedMs } from "../lib/context.ts";
import { chatTarget, type GatewayKind, type Gateways, startGateways } from "../lib/gateways.ts";
import { measureCpu, pinned } from "../lib/processes.ts";
import { formatSummary, median, rotation, summarize } from "../lib/stats.ts";

/** Tokens in the streamed answer. */
export const STREAM_TOKENS = 500;
/** Tokens per stream, and streams per second, of the tail measurement. */
const TAIL = { tokens: 16, rate: 200, smokeRate: 50 };
/** Streams each timing client sends before the ones it times (0.1 s of the tail's rate). */
const CLIENT_WARMUP = 20;

interface Timings {
  readonly ttftMs: number[];
  readonly ttltMs: number[];
  readonly errors: number;
  readonly lastError: string;
}

interface Sample {
  readonly ttftP50: number;
  readonly ttftP90: number;
  readonly ttftP99: number;
  readonly ttltP50: number;
  readonly ttltP90: number;
  readonly serverCores: number;
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function timeStreams(
  ctx: BenchContext,
  g: Gateways,
  kind: GatewayKind,
  count: number,
  paced?: { tokens: number; rate: number },
  warmup = 0,
): Promise<Sample> {
  const target = chatTarget(kind, g, {
    stream: true,
    maxTokens: paced?.tokens ?? STREAM_TOKENS,
    includeUsage: paced !== undefined,
  });
  const specPath = `${ctx.workDir}/stream-${kind}.json`;
  await Deno.writeTextFile(
    specPath,
    JSON.stringify({
      url: target.url,
      headers: target.headers,
      body: target.body,
      count,
      rate: paced?.rate,
      warmup,
    }),
  );
  const [command, args] = pinned(ctx.cpus.load, Deno.execPath(), [
    "run",
    "--allow-net",
    "--allow-read",
    `${ctx.root}/scripts/bench/clients/stream_timing.ts`,
    specPath,
  ]);
  const server = { direct: g.upstream, proxy: g.proxy, gateway: g.gateway, portkey: g.portkey! }[
    kind
  ];
  const { result, cpu } = await measureCpu([server.process], async () => {
    const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
      .output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    return JSON.parse(new TextDecoder().decode(out.stdout)) as Timings;
  });
  if (result.errors > 0 || result.ttftMs.length === 0) {
    throw new Error(`${kind}: ${result.errors} of ${count} streams failed: ${result.lastError}`);
  }
  if (result.ttftMs.some((t) => !Number.isFinite(t))) {
    throw new Error(`${kind}: a stream carried no text`);
  }
  return {
    ttftP50: quantile(result.ttftMs, 0.5),
    ttftP90: quantile(result.ttftMs, 0.9),
    ttftP99: quantile(result.ttftMs, 0.99),
    ttltP50: quantile(result.ttltMs, 0.5),
    ttltP90: quantile(result.ttltMs, 0.9),
    serverCores: cpu[server.process.name] ?? NaN,
  };
}

/** Scenario 3. */
export const streaming: Scenario = {
  id: "streaming",
  title: `3. Streaming: added time to first and last token of a ${STREAM_TOKENS}-token stream`,
  async run(ctx) {
    const g = await startGateways(ctx);
    const kinds: GatewayKind[] = ["direct", "gateway"];
    const notes: string[] = [];
    if (g.portkey && !g.portkeyProblems.stream) kinds.push("portkey");
    else {
      notes.push(
        `Portkey has no figures: ${g.portkeyProblems.start ?? g.portkeyProblems.stream}.`,
      );
    }
    const count = ctx.smoke ? 3 : 40;
    const samples = new Map<GatewayKind, Sample[]>(kinds.map((k) => [k, []]));
    // The tail is measured on the upstream, the bare proxy (what any server in between adds on
    // this machine) and this gateway: it is this gateway's target.
    const tailKinds: GatewayKind[] = ["direct", "proxy", "gateway"];
    const tail = new Map<GatewayKind, Sample[]>(tailKinds.map((k) => [k, []]));
    const tailRate = ctx.smoke ? TAIL.smokeRate : TAIL.rate;
    const tailCount = Math.max(2, Math.round(tailRate * (ctx.smoke ? 0.5 : ctx.seconds)));
    // Each timing client is a new process: its first requests time its own start (see
    // stream_timing.ts), so they go uncounted.
    const clientWarmup = ctx.smoke ? 0 : CLIENT_WARMUP;
    try {
      for (const kind of kinds) await timeStreams(ctx, g, kind, ctx.smoke ? 1 : 10); // warm-up
      // The tail's request (16 chunks, usage asked for) takes other paths through the relay:
      // warmed too, as scenario 2 warms its contenders, or its first round times the JIT (a
      // cold server's first 1,000 streams: p99 47 ms, against 4-6 ms warm, by hand).
      for (const kind of ctx.smoke ? [] : tailKinds) {
        await timeStreams(ctx, g, kind, tailRate * 2, { tokens: TAIL.tokens, rate: tailRate });
      }
      for (let round = 0; round < ctx.rounds; round++) {
        for (const kind of rotation(kinds, round)) {
          const s = await timeStreams(ctx, g, kind, count, undefined, clientWarmup);
          samples.get(kind)!.push(s);
          ctx.log(
            `  round ${round + 1} ${kind}: TTFT p50 ${s.ttftP50.toFixed(2)} ms, TTLT p50 ${
              s.ttltP50.toFixed(2)
            } ms`,
          );
        }
        for (const kind of rotation(tailKinds, round)) {
          const s = await timeStreams(ctx, g, kind, tailCount, {
            tokens: TAIL.tokens,
            rate: tailRate,
          }, clientWarmup);
          tail.get(kind)!.push(s);
          ctx.log(
            `  round ${round + 1} ${kind} at ${tailRate}/s: TTFT p50 ${
              s.ttftP50.toFixed(2)
            } ms, p99 ${s.ttftP99.toFixed(2)} ms`,
          );
        }
      }
    } finally {
      await g.stop();
    }
    const direct = samples.get("direct")!;
    const label: Record<GatewayKind, string> = {
      direct: "upstream direct",
      proxy: "bare pass-through proxy",
      gateway: "this gateway",
      portkey: "Portkey",
    };
    const rows = kinds.map((kind) => {
      const s = samples.get(kind)!;
      const added = (f: (x: Sample) => number) => median(s.map((x, i) => f(x) - f(direct[i])));
      return [
        label[kind],
        formatSummary(summarize(s.map((x) => x.ttftP50)), 2),
        formatSummary(summarize(s.map((x) => x.ttltP50)), 2),
        kind === "direct" ? "–" : added((x) => x.ttftP50).toFixed(2),
        kind === "direct" ? "–" : added((x) => x.ttftP90).toFixed(2),
        kind === "direct" ? "–" : added((x) => x.ttltP50).toFixed(2),
        median(s.map((x) => x.serverCores)).toFixed(2),
      ];
    });
    const tailRows = tailKinds.map((kind) => {
      const s = tail.get(kind)!;
      const direct = tail.get("direct")!;
      const added = (f: (x: Sample) => number) =>
        kind === "direct" ? "–" : median(s.map((x, i) => f(x) - f(direct[i]))).toFixed(2);
      return [
        label[kind],
        formatSummary(summarize(s.map((x) => x.ttftP50)), 2),
        formatSummary(summarize(s.map((x) => x.ttftP99)), 2),
        added((x) => x.ttftP50),
        added((x) => x.ttftP99),
        median(s.map((x) => x.serverCores)).toFixed(2),
      ];
    });
    const tailGw = tail.get("gateway")!;
    const addedP99 = median(tailGw.map((x, i) => x.ttftP99 - tail.get("direct")![i].ttftP99));
    const proxyP99 = median(
      tail.get("proxy")!.map((x, i) => x.ttftP99 - tail.get("direct")![i].ttftP99),
    );
    const gw = samples.get("gateway")!;
    const headline = {
      [`added time to first token, this gateway, one client at ${tailRate} streams/s (p99)`]: `${
        addedP99.toFixed(2)
      } ms`,
      [`added time to first token, bare proxy, one client at ${tailRate} streams/s (p99)`]: `${
        proxyP99.toFixed(2)
      } ms`,
      "added time to first token, this gateway (p50)": `${
        median(gw.map((x, i) => x.ttftP50 - direct[i].ttftP50)).toFixed(2)
      } ms`,
      "added time to last token, this gateway (p50)": `${
        median(gw.map((x, i) => x.ttltP50 - direct[i].ttltP50)).toFixed(2)
      } ms`,
    };
    notes.push(
      `${count} streams per contender per round, one at a time; the upstream sends all ` +
        `${STREAM_TOKENS} chunks at once, so time to last token is the gateways' own ` +
        "per-chunk work.",
    );
    notes.push(
      `Tail: ${tailCount} streams of ${TAIL.tokens} chunks and a usage chunk per contender per ` +
        `round, one client at ${tailRate} streams/s, each time measured from when the request ` +
        `was due. Each timing client sends ${clientWarmup} streams first, uncounted (its own ` +
        "start-up).",
    );
    return {
      targets: {
        "stream-ttft-p99": {
          value: addedP99,
          text: `${signedMs(addedP99)}${
            tailRate === TAIL.rate ? "" : ` (at ${tailRate} streams/s)`
          }; the bare proxy ${signedMs(proxyP99)}`,
        },
      },
      tables: [{
        headers: [
          "contender",
          "TTFT p50 ms",
          "TTLT p50 ms",
          "added TTFT p50 ms",
          "added TTFT p90 ms",
          "added TTLT p50 ms",
          "server cores",
        ],
        rows,
      }, {
        title: `Tail: time to first token, one client at ${tailRate} streams/s of ${TAIL.tokens} ` +
          "chunks + usage (latency-corrected)",
        headers: [
          "contender",
          "TTFT p50 ms",
          "TTFT p99 ms",
          "added TTFT p50 ms",
          "added TTFT p99 ms",
          "server cores",
        ],
        rows: tailRows,
      }],
      headline,
      notes,
      raw: { ...Object.fromEntries(samples), tail: Object.fromEntries(tail) },
    };
  },
};
