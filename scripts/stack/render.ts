/**
 * Rewrites the stack's compose-side addresses and paths for native processes on 127.0.0.1, and
 * nothing else: `jaeger:4317` becomes `127.0.0.1:<jaeger's native 4317>`, a listen address
 * `0.0.0.0:8888` becomes `127.0.0.1:<this service's native 8888>`, a container path such as
 * `/etc/prometheus/rules` becomes the folder that compose would have mounted there.
 */
import { isScalar, parseDocument, visit } from "yaml";
import { NATIVE_SERVICES, type NativeService, type PortMap } from "./ports.ts";

/** What one service's files and flags are rendered against. */
export interface RenderContext {
  /** The service whose files these are: its `0.0.0.0:PORT` listen addresses use its ports. */
  service: NativeService;
  ports: PortMap;
  /** Container path → native path, for the service's mounts and working directory. */
  paths: ReadonlyArray<readonly [containerPath: string, nativePath: string]>;
  /** Names the source in error messages. */
  source: string;
}

const LISTEN_HOST = "0.0.0.0";
const NATIVE_HOST = "127.0.0.1";
const hostPattern = [LISTEN_HOST, ...NATIVE_SERVICES].map((h) => h.replaceAll(".", "\\.")).join(
  "|",
);
// A host:port that is not part of a longer name (so `my-app:8000` is left alone).
const addressPattern = new RegExp(`(?<![\\w.-])(${hostPattern}):(\\d+)(?![\\w.-])`, "g");

function nativePort(context: RenderContext, host: string, containerPort: number): number {
  const service = host === LISTEN_HOST ? context.service : host as NativeService;
  const port = context.ports[service][containerPort];
  if (port === undefined) {
    throw new Error(
      `${context.source}: ${host}:${containerPort} has no native port for ${service}; ` +
        `add ${containerPort} to DEFAULT_NATIVE_PORTS in scripts/stack/ports.ts`,
    );
  }
  return port;
}

/** `service:port` and `0.0.0.0:port` → `127.0.0.1:<native port>`. */
export function rewriteAddresses(text: string, context: RenderContext): string {
  return text.replace(
    addressPattern,
    (_, host: string, port: string) => `${NATIVE_HOST}:${nativePort(context, host, Number(port))}`,
  );
}

/** Container paths → native paths, longest first, only at path boundaries. */
export function rewritePaths(text: string, context: RenderContext): string {
  const sorted = [...context.paths].sort(([a], [b]) => b.length - a.length);
  let result = text;
  for (const [containerPath, nativePath] of sorted) {
    const escaped = containerPath.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const pattern = new RegExp(`(?<=^|[=,:\\s])${escaped}(?=$|[/,:\\s])`, "g");
    result = result.replace(pattern, nativePath);
  }
  return result;
}

/** Paths, then addresses: what every command-line flag and environment value goes through. */
export function renderString(text: string, context: RenderContext): string {
  return rewriteAddresses(rewritePaths(text, context), context);
}

/**
 * Renders a YAML config file: every string value goes through renderString, and a map holding
 * `host: 0.0.0.0` (or a service name) beside `port: N` — the collector's telemetry reader — gets
 * both rewritten. Keys, comments and all other values stay as they are.
 */
export function renderYaml(text: string, context: RenderContext): string {
  const document = parseDocument(text);
  if (document.errors.length > 0) {
    throw new Error(`${context.source}: ${document.errors.map((e) => e.message).join("; ")}`);
  }
  visit(document, {
    Map(_, map) {
      const host = map.get("host", true);
      const port = map.get("port", true);
      if (
        isScalar(host) && isScalar(port) && typeof host.value === "string" &&
        typeof port.value === "number" && new RegExp(`^(${hostPattern})$`).test(host.value)
      ) {
        port.value = nativePort(context, host.value, port.value);
        host.value = NATIVE_HOST;
      }
    },
    Pair(_, pair) {
      if (isScalar(pair.value) && typeof pair.value.value === "string") {
        pair.value.value = renderString(pair.value.value, context);
      }
    },
    Seq(_, seq) {
      for (const item of seq.items) {
        if (isScalar(item) && typeof item.value === "string") {
          item.value = renderString(item.value, context);
        }
      }
    },
  });
  return document.toString({ lineWidth: 0, flowCollectionPadding: false });
}
