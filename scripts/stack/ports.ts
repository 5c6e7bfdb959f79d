/**
 * The native stack's ports. In compose every service has its own network address, so the collector
 * and Jaeger can both listen on 4317/4318/8888/13133; on one host they cannot. Each service's
 * container ports map to a native port on 127.0.0.1: the defaults below for `deno task stack`, or
 * random free ports for tests.
 */

/** Services of stack/compose.yaml that the native stack can run (Grafana and spike cannot). */
export const NATIVE_SERVICES = [
  "otel-collector",
  "jaeger",
  "prometheus",
  "alertmanager-config",
  "alertmanager",
  "alert-receiver",
  "app",
] as const;

export type NativeService = typeof NATIVE_SERVICES[number];

/** Container port → native port, per service. */
export type PortMap = Record<NativeService, Record<number, number>>;

/**
 * Every port a service listens on or is reached on in the stack's config files, with the native
 * default. Compose-published ports keep their numbers; Jaeger's copies of the collector's ports move.
 * A host:port in a config file that is missing here makes rendering fail, naming it.
 */
export const DEFAULT_NATIVE_PORTS: PortMap = {
  "otel-collector": { 4317: 4317, 4318: 4318, 8888: 8888, 13133: 13133 },
  jaeger: { 4317: 14317, 4318: 14318, 8888: 18888, 13133: 13134, 16685: 16685, 16686: 16686 },
  prometheus: { 9090: 9090 },
  // A one-shot that renders Alertmanager's config: it listens on nothing.
  "alertmanager-config": {},
  alertmanager: { 9093: 9093 },
  "alert-receiver": { 9095: 9095 },
  app: { 8000: 8000 },
};

export function isNativeService(name: string): name is NativeService {
  return (NATIVE_SERVICES as readonly string[]).includes(name);
}

/** The defaults with every native port replaced by a distinct free port on 127.0.0.1. */
export function randomPortMap(): PortMap {
  // Hold every listener until all ports are chosen, so no two entries get the same port.
  const listeners: Deno.Listener[] = [];
  try {
    const map = {} as PortMap;
    for (const service of NATIVE_SERVICES) {
      map[service] = {};
      for (const containerPort of Object.keys(DEFAULT_NATIVE_PORTS[service])) {
        const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        listeners.push(listener);
        map[service][Number(containerPort)] = (listener.addr as Deno.NetAddr).port;
      }
    }
    return map;
  } finally {
    for (const listener of listeners) listener.close();
  }
}

/** Throws naming the first port of these services that something already listens on. */
export function assertPortsFree(map: PortMap, services: readonly NativeService[]): void {
  for (const service of services) {
    for (const [containerPort, port] of Object.entries(map[service])) {
      let listener: Deno.Listener | undefined;
      try {
        listener = Deno.listen({ hostname: "127.0.0.1", port });
      } catch (error) {
        if (error instanceof Deno.errors.AddrInUse) {
          throw new Error(
            `port ${port} on 127.0.0.1 (${service}'s ${containerPort}) is already in use: ` +
              `stop what holds it (a stack already running? ./scripts/deno task stack:down) or use --random-ports`,
          );
        }
        throw error;
      } finally {
        listener?.close();
      }
    }
  }
}
