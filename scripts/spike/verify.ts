/**
 * --verify: asks Prometheus, Alertmanager and (when given) the webhook receiver, through their
 * own HTTP APIs, whether a scenario's expected alerts fired and arrived — or, for a scenario that
 * expects none, that nothing is pending or firing. Polls against a deadline; never sleeps blind.
 */
import type { ExpectedAlert } from "./scenarios.ts";

export interface Endpoints {
  prometheus: string;
  alertmanager: string;
  /** scripts/alert-receiver.ts; checked only when set. */
  receiver?: string;
}

/** When an expected alert reached each stage, in ms since the epoch (undefined: not yet). */
export interface AlertProgress {
  expected: ExpectedAlert;
  pendingAt?: number;
  firingAt?: number;
  alertmanagerAt?: number;
  receiverAt?: number;
}

interface PrometheusAlert {
  labels: Record<string, string>;
  state: "pending" | "firing" | "inactive";
  activeAt?: string;
}
interface AlertmanagerAlert {
  labels: Record<string, string>;
  startsAt: string;
  status: { state: string };
}
interface ReceivedAlert {
  labels: Record<string, string>;
  status: string;
  receivedAt: string;
}

async function getJson<T>(url: string, fetcher: typeof fetch): Promise<T> {
  const response = await fetcher(url, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`GET ${url}: HTTP ${response.status}`);
  }
  return await response.json() as T;
}

/** True when `labels` has every label of `expected` (and the alert name). */
export function matches(expected: ExpectedAlert, labels: Record<string, string>): boolean {
  return labels.alertname === expected.alertname &&
    Object.entries(expected.labels).every(([key, value]) => labels[key] === value);
}

/** `InferenceCostHigh{tenant="team-internal"}` */
export function describeAlert(alert: ExpectedAlert | { labels: Record<string, string> }): string {
  const name = "alertname" in alert ? alert.alertname : alert.labels.alertname;
  const labels = Object.entries(alert.labels).filter(([key]) => key !== "alertname")
    .filter(([key]) => key !== "severity")
    .map(([key, value]) => `${key}="${value}"`).join(",");
  return `${name}{${labels}}`;
}

/** Prometheus's alerting rule names, to fail fast when the shipped rules are not loaded. */
export async function loadedAlertNames(
  prometheus: string,
  fetcher: typeof fetch = fetch,
): Promise<Set<string>> {
  const body = await getJson<
    { data: { groups: Array<{ rules: Array<{ name: string; type: string }> }> } }
  >(
    `${prometheus}/api/v1/rules?type=alert`,
    fetcher,
  );
  return new Set(body.data.groups.flatMap((g) => g.rules.map((r) => r.name)));
}

/** Whether Prometheus has scraped the series a scenario's alerts will read, per tenant and model. */
export async function seriesScraped(
  prometheus: string,
  pairs: ReadonlyArray<{ tenant: string; model: string }>,
  fetcher: typeof fetch = fetch,
): Promise<boolean> {
  const query = "count by (tenant, model) (inference_cost_usd_total)";
  const body = await getJson<{ data: { result: Array<{ metric: Record<string, string> }> } }>(
    `${prometheus}/api/v1/query?query=${encodeURIComponent(query)}`,
    fetcher,
  );
  const seen = new Set(body.data.result.map((r) => `${r.metric.tenant}/${r.metric.model}`));
  return pairs.every((p) => seen.has(`${p.tenant}/${p.model}`));
}

/** One look at every stage; updates `progress` in place with the first time each was seen. */
export async function observe(
  endpoints: Endpoints,
  progress: AlertProgress[],
  now: number,
  fetcher: typeof fetch = fetch,
): Promise<{ active: PrometheusAlert[]; alertmanager: AlertmanagerAlert[] }> {
  const prometheus = await getJson<{ data: { alerts: PrometheusAlert[] } }>(
    `${endpoints.prometheus}/api/v1/alerts`,
    fetcher,
  );
  const active = prometheus.data.alerts.filter((a) => a.state !== "inactive");
  const alertmanager = await getJson<AlertmanagerAlert[]>(
    `${endpoints.alertmanager}/api/v2/alerts`,
    fetcher,
  );
  const received = endpoints.receiver
    ? (await getJson<{ alerts: ReceivedAlert[] }>(`${endpoints.receiver}/alerts`, fetcher)).alerts
    : [];
  for (const entry of progress) {
    for (const alert of active.filter((a) => matches(entry.expected, a.labels))) {
      if (alert.activeAt) entry.pendingAt ??= Date.parse(alert.activeAt);
      if (alert.state === "firing") entry.firingAt ??= now;
    }
    const inAlertmanager = alertmanager.find((a) => matches(entry.expected, a.labels));
    if (inAlertmanager) {
      entry.alertmanagerAt ??= now;
      // Prometheus sends an alert with startsAt = the moment it fired: more exact than polling.
      const startsAt = Date.parse(inAlertmanager.startsAt);
      if (Number.isFinite(startsAt) && entry.firingAt !== undefined) {
        entry.firingAt = Math.min(entry.firingAt, startsAt);
      }
    }
    const atReceiver = received.find((a) =>
      a.status === "firing" && matches(entry.expected, a.labels)
    );
    if (atReceiver) entry.receiverAt ??= Date.parse(atReceiver.receivedAt);
  }
  return { active, alertmanager };
}

/** True when every expected alert is firing in Prometheus, in Alertmanager, and at the receiver. */
export function complete(progress: AlertProgress[], endpoints: Endpoints): boolean {
  return progress.every((p) =>
    p.firingAt !== undefined && p.alertmanagerAt !== undefined &&
    (endpoints.receiver === undefined || p.receiverAt !== undefined)
  );
}

export interface WaitOptions {
  endpoints: Endpoints;
  expected: ExpectedAlert[];
  deadline: number;
  /** Progress lines. */
  log: (line: string) => void;
  intervalMs?: number;
  /** While nothing changes, the state is repeated this often, with the time left (default 15 s). */
  heartbeatMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  fetch?: typeof fetch;
}

/** Polls until every expected alert arrived everywhere, or the deadline. */
export async function waitForAlerts(options: WaitOptions): Promise<{
  ok: boolean;
  progress: AlertProgress[];
  lastError?: string;
}> {
  const now = options.now ?? (() => Date.now());
  const sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  const progress: AlertProgress[] = options.expected.map((expected) => ({ expected }));
  let lastError: string | undefined;
  let lastReport = "";
  let lastLogAt = now();
  const log = (line: string) => {
    options.log(line);
    lastLogAt = now();
  };
  const left = () => `${Math.max(0, Math.ceil((options.deadline - now()) / 1000))} s left`;
  const heartbeatDue = () => now() - lastLogAt >= (options.heartbeatMs ?? 15_000);
  while (true) {
    try {
      await observe(options.endpoints, progress, now(), options.fetch);
      lastError = undefined;
      const report = progress.map((p) =>
        `${describeAlert(p.expected)}: ${
          p.receiverAt
            ? "received by the webhook"
            : p.alertmanagerAt
            ? "in Alertmanager"
            : p.firingAt
            ? "firing"
            : p.pendingAt
            ? "pending"
            : "not yet"
        }`
      ).join("; ");
      if (report !== lastReport) log(report);
      else if (heartbeatDue()) log(`still ${report} (${left()})`);
      lastReport = report;
      if (complete(progress, options.endpoints)) return { ok: true, progress };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message !== lastError || heartbeatDue()) log(`cannot ask yet: ${message} (${left()})`);
      lastError = message;
    }
    if (now() >= options.deadline) return { ok: false, progress, lastError };
    await sleep(Math.min(options.intervalMs ?? 2_000, Math.max(0, options.deadline - now())));
  }
}

/**
 * Polls until the deadline; fails at the first alert seen pending or firing in Prometheus or
 * held by Alertmanager (a calm scenario must leave both quiet).
 */
export async function watchQuiet(options: Omit<WaitOptions, "expected">): Promise<{
  ok: boolean;
  seen: string[];
  lastError?: string;
}> {
  const now = options.now ?? (() => Date.now());
  const sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  let lastError: string | undefined;
  let looks = 0;
  while (true) {
    try {
      const { active, alertmanager } = await observe(options.endpoints, [], now(), options.fetch);
      looks++;
      lastError = undefined;
      if (active.length > 0 || alertmanager.length > 0) {
        return {
          ok: false,
          seen: [
            ...active.map((a) => `${describeAlert(a)} ${a.state} in Prometheus`),
            ...alertmanager.map((a) => `${describeAlert(a)} in Alertmanager`),
          ],
        };
      }
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    if (now() >= options.deadline) {
      return { ok: looks > 0 && lastError === undefined, seen: [], lastError };
    }
    await sleep(Math.min(options.intervalMs ?? 5_000, Math.max(0, options.deadline - now())));
  }
}
