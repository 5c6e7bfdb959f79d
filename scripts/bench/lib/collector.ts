/**
 * The OTLP receiver spans are exported to during a benchmark. Preferably the native OpenTelemetry
 * Collector that scripts/install-stack.sh builds (OTLP/HTTP in → batch → debug exporter at basic
 * verbosity, so it does the real receive-and-decode work but keeps nothing); else a minimal OTLP
 * sink in Deno that answers every export with 200. Which one ran is part of every result.
 */
import { type BenchProcess, freePort, startProcess, waitReady } from "./processes.ts";

/** A running OTLP receiver. */
export interface Collector {
  readonly kind: "otelcol" | "otlp-sink";
  /** OTLP/HTTP base URL (the exporters append /v1/traces etc.). */
  readonly endpoint: string;
  readonly process: BenchProcess;
  /** Spans accepted so far, when the receiver can tell. */
  acceptedSpans(): Promise<number | undefined>;
  stop(): Promise<void>;
}

/** The native collector's path from scripts/install-stack.sh, or undefined if it is not built. */
export async function nativeCollectorPath(root: string): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("bash", {
      args: [`${root}/scripts/install-stack.sh`, "--print-paths"],
      stdout: "piped",
      stderr: "null",
    }).output();
    const line = new TextDecoder().decode(out.stdout).split("\n").find((l) =>
      l.startsWith("otelcol=")
    );
    return line?.slice("otelcol=".length) || undefined;
  } catch {
    return undefined;
  }
}

function collectorConfig(otlpPort: number, metricsPort: number, healthPort: number): string {
  return `# Benchmark collector: OTLP/HTTP in, batch, then discarded by the debug exporter.
extensions:
  health_check:
    endpoint: 127.0.0.1:${healthPort}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlpPort}
processors:
  batch:
    timeout: 200ms
exporters:
  debug:
    verbosity: basic
service:
  extensions: [health_check]
  pipelines:
    traces: { receivers: [otlp], processors: [batch], exporters: [debug] }
    metrics: { receivers: [otlp], processors: [batch], exporters: [debug] }
    logs: { receivers: [otlp], processors: [batch], exporters: [debug] }
  telemetry:
    metrics:
      level: normal
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: ${metricsPort}
`;
}

/** Starts the native collector when built, else the minimal sink, pinned to `cpus`. */
export async function startCollector(
  root: string,
  workDir: string,
  cpus: string | undefined,
): Promise<Collector> {
  const otelcol = await nativeCollectorPath(root);
  const otlpPort = freePort();
  if (otelcol) {
    const metricsPort = freePort();
    const healthPort = freePort();
    const configPath = `${workDir}/otelcol.yaml`;
    Deno.writeTextFileSync(configPath, collectorConfig(otlpPort, metricsPort, healthPort));
    const process = startProcess({
      name: "otelcol",
      command: otelcol,
      args: ["--config", configPath],
      cpus,
      logDir: workDir,
    });
    await waitReady(process, `http://127.0.0.1:${healthPort}/`);
    return {
      kind: "otelcol",
      endpoint: `http://127.0.0.1:${otlpPort}`,
      process,
      async acceptedSpans() {
        try {
          const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
          let sum = 0;
          for (const line of text.split("\n")) {
            if (line.startsWith("otelcol_receiver_accepted_spans")) {
              sum += Number(line.slice(line.lastIndexOf(" ") + 1));
            }
          }
          return sum;
        } catch {
          return undefined;
        }
      },
      async stop() {
        await process.stop();
      },
    };
  }
  const process = startProcess({
    name: "otlp-sink",
    command: Deno.execPath(),
    args: ["run", "--allow-net", "--allow-env", `${root}/scripts/bench/servers/otlp_sink.ts`],
    env: { PORT: String(otlpPort) },
    cpus,
    logDir: workDir,
  });
  await waitReady(process, `http://127.0.0.1:${otlpPort}/health`);
  return {
    kind: "otlp-sink",
    endpoint: `http://127.0.0.1:${otlpPort}`,
    process,
    acceptedSpans: () => Promise.resolve(undefined),
    async stop() {
      await process.stop();
    },
  };
}
