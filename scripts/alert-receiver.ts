/**
 * Alertmanager webhook receiver for the stack: prints one line per alert it gets, keeps the most
 * recent ones in memory and serves them back, so demo users see alerts arrive and tests can read
 * them.
 *
 *   POST /alerts   an Alertmanager webhook payload (version 4), validated
 *   GET  /alerts   { alerts: ReceivedAlert[] }, oldest first
 *   DELETE /alerts forget every alert kept so far
 *   GET  /health   { status: "ok" }
 *
 * Usage: deno run --allow-net=127.0.0.1:9095 scripts/alert-receiver.ts --listen=127.0.0.1:9095
 * (or --host/--port, or ALERT_RECEIVER_HOST/ALERT_RECEIVER_PORT when --allow-env grants them).
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";

const labelSet = z.record(z.string(), z.string());

/** One alert inside an Alertmanager webhook payload. */
export const webhookAlertSchema = z.object({
  status: z.enum(["firing", "resolved"]),
  labels: labelSet,
  annotations: labelSet.default({}),
  startsAt: z.string(),
  endsAt: z.string(),
  generatorURL: z.string().default(""),
  fingerprint: z.string().default(""),
});

/** The body Alertmanager POSTs to a webhook receiver (payload version 4). */
export const webhookPayloadSchema = z.object({
  version: z.literal("4"),
  groupKey: z.string(),
  truncatedAlerts: z.number().int().nonnegative().default(0),
  status: z.enum(["firing", "resolved"]),
  receiver: z.string(),
  groupLabels: labelSet.default({}),
  commonLabels: labelSet.default({}),
  commonAnnotations: labelSet.default({}),
  externalURL: z.string().default(""),
  alerts: z.array(webhookAlertSchema),
});

export type WebhookPayload = z.infer<typeof webhookPayloadSchema>;

/** An alert as this receiver keeps it: the alert plus where and when it arrived. */
export interface ReceivedAlert extends z.infer<typeof webhookAlertSchema> {
  receivedAt: string;
  receiver: string;
  groupKey: string;
}

export interface AlertReceiverOptions {
  /** Where each alert's one-line summary goes (default: console.log). */
  log?: (line: string) => void;
  /** Alerts kept before the oldest are dropped (default 10,000). */
  maxAlerts?: number;
  /** Clock for receivedAt (tests pass a fixed one). */
  now?: () => Date;
}

/** One line for the terminal: time, status, alert name, then its labels and summary. */
export function formatAlertLine(alert: ReceivedAlert): string {
  const { alertname = "(no alertname)", ...labels } = alert.labels;
  const parts = [alert.receivedAt, alert.status, alertname];
  for (const [key, value] of Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))) {
    parts.push(`${key}=${value}`);
  }
  if (alert.annotations.summary) parts.push(`summary=${JSON.stringify(alert.annotations.summary)}`);
  return parts.join(" ");
}

/**
 * Builds the receiver's Hono app and the list it fills.
 * @example
 * const { app, alerts } = createAlertReceiver({ log: () => {} });
 * await app.request("/alerts", { method: "POST", body: JSON.stringify(payload) });
 */
export function createAlertReceiver(options: AlertReceiverOptions = {}) {
  const log = options.log ?? console.log;
  const maxAlerts = options.maxAlerts ?? 10_000;
  const now = options.now ?? (() => new Date());
  const alerts: ReceivedAlert[] = [];
  const app = new Hono();

  const error = (type: string, message: string) => ({ error: { type, message } });

  app.get("/health", (c) => c.json({ status: "ok" }));

  app.get("/alerts", (c) => c.json({ alerts }));

  app.delete("/alerts", (c) => {
    alerts.length = 0;
    return c.body(null, 204);
  });

  app.post(
    "/alerts",
    bodyLimit({
      maxSize: 1024 * 1024,
      onError: (c) => c.json(error("payload_too_large", "webhook body over 1 MiB"), 413),
    }),
    async (c) => {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        return c.json(error("invalid_json", "the body is not JSON"), 400);
      }
      const parsed = webhookPayloadSchema.safeParse(body);
      if (!parsed.success) {
        return c.json(error("invalid_payload", z.prettifyError(parsed.error)), 400);
      }
      const receivedAt = now().toISOString();
      for (const alert of parsed.data.alerts) {
        const received: ReceivedAlert = {
          ...alert,
          receivedAt,
          receiver: parsed.data.receiver,
          groupKey: parsed.data.groupKey,
        };
        alerts.push(received);
        log(formatAlertLine(received));
      }
      if (alerts.length > maxAlerts) alerts.splice(0, alerts.length - maxAlerts);
      return c.json({ received: parsed.data.alerts.length });
    },
  );

  app.notFound((c) => c.json(error("not_found", `${c.req.method} ${c.req.path}`), 404));

  return { app, alerts };
}

/** Reads an environment variable only when --allow-env grants it, instead of failing. */
function envIfAllowed(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  return state === "granted" ? Deno.env.get(name) : undefined;
}

/** Where to listen, from --listen=HOST:PORT, --host/--port, then the environment. */
export function parseListenAddress(
  args: string[],
  env: (name: string) => string | undefined = envIfAllowed,
): { hostname: string; port: number } {
  const flag = (name: string) => {
    const prefix = `--${name}=`;
    const index = args.findIndex((arg) => arg === `--${name}` || arg.startsWith(prefix));
    if (index < 0) return undefined;
    return args[index].startsWith(prefix) ? args[index].slice(prefix.length) : args[index + 1];
  };
  let hostname = flag("host") ?? env("ALERT_RECEIVER_HOST") ?? "127.0.0.1";
  let portText = flag("port") ?? env("ALERT_RECEIVER_PORT") ?? "9095";
  const listen = flag("listen");
  if (listen !== undefined) {
    const separator = listen.lastIndexOf(":");
    if (separator < 0) throw new Error(`--listen wants HOST:PORT, got ${listen}`);
    hostname = listen.slice(0, separator);
    portText = listen.slice(separator + 1);
  }
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`alert receiver port must be 0-65535, got ${portText}`);
  }
  return { hostname, port };
}

if (import.meta.main) {
  const { hostname, port } = parseListenAddress(Deno.args);
  const { app } = createAlertReceiver();
  const server = Deno.serve({
    hostname,
    port,
    onListen: (addr) =>
      console.log(`alert-receiver listening on http://${addr.hostname}:${addr.port}`),
  }, app.fetch);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => server.shutdown());
  }
  await server.finished;
}
