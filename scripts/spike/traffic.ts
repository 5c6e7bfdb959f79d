/**
 * Sends a scenario's requests to the app: a pool of workers takes the next request round-robin
 * over the streams, paced so the scenario lasts about its spread (or runs at its fixed rate), until
 * every stream's stop condition or a hard bound (requests, seconds) is met. Every response's
 * `cost_usd` is added up per billed tenant and model; nothing is estimated.
 */
import { fillerPrompt, type Scenario, type Stream, tutorialPrompt } from "./scenarios.ts";

/** Hourly thresholds per configured tenant, as the app exports them. */
export type Thresholds = ReadonlyMap<string, number>;

/** The reference tutorial's thresholds, used when the app's /metrics cannot be read. */
export const TUTORIAL_THRESHOLDS: Thresholds = new Map([
  ["team-search", 50],
  ["team-chat", 100],
  ["team-internal", 10],
  ["default", 25],
]);

/** The tenant a request is billed as: configured ids as they are, anything else `other`. */
export function billedTenant(tenant: string, thresholds: Thresholds): string {
  return thresholds.has(tenant) ? tenant : "other";
}

/** The hourly threshold a tenant is held to (`other`: the default tenant's). */
export function thresholdOf(tenant: string, thresholds: Thresholds): number | undefined {
  return thresholds.get(tenant) ?? thresholds.get("default");
}

/**
 * Reads `inference_cost_alert_threshold_usd{tenant="..."} value` lines from an exposition (the
 * classic text format or OpenMetrics).
 */
export function parseThresholds(exposition: string): Map<string, number> {
  const thresholds = new Map<string, number>();
  const pattern = /^inference_cost_alert_threshold_usd\{tenant="([^"\\]*)"\}\s+(\S+)/gm;
  for (const match of exposition.matchAll(pattern)) {
    const value = Number(match[2]);
    if (Number.isFinite(value)) thresholds.set(match[1], value);
  }
  return thresholds;
}

/** Totals for one billed tenant and model. */
export interface StreamTotals {
  tenant: string;
  requestedTenant: string;
  model: string;
  intendedModel?: string;
  requests: number;
  failed: number;
  spendUsd: number;
  inputTokens: number;
  /** Error type → count, for failed requests. */
  errors: Record<string, number>;
}

export interface TrafficResult {
  startedAt: number;
  endedAt: number;
  totals: StreamTotals[];
  /** Why it stopped early, if it did. */
  stoppedBy?: string;
}

export interface TrafficOptions {
  appUrl: string;
  thresholds: Thresholds;
  /** Called after each response (progress bar). */
  onResponse?: (progress: { done: number; estimatedTotal: number; spendUsd: number }) => void;
  /** Overrides of the scenario's bounds (lower only). */
  maxRequests?: number;
  maxSeconds?: number;
  /** For tests: the clock and the sleep. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  fetch?: typeof fetch;
}

interface StreamState {
  stream: Stream;
  totals: StreamTotals;
  /** Requests started; totals.requests counts the answered ones. */
  sent: number;
  targetUsd?: number;
}

/** USD per successful request so far, or undefined before the first one. */
function costPerRequest(state: StreamState): number | undefined {
  const ok = state.totals.requests - state.totals.failed;
  return ok > 0 && state.totals.spendUsd > 0 ? state.totals.spendUsd / ok : undefined;
}

/** How many requests a stream will send, as far as is known now. */
function estimatedRequests(state: StreamState): number {
  if (state.stream.requests !== undefined) return state.stream.requests;
  const perRequest = costPerRequest(state);
  if (state.targetUsd === undefined || perRequest === undefined) return Math.max(state.sent, 1);
  return Math.max(state.sent, Math.ceil(state.targetUsd / perRequest));
}

/**
 * Whether a stream may send now, must wait for answers in flight (a spend target that those may
 * reach, or the first answer that tells what a request costs), or is done.
 */
function streamStatus(state: StreamState): "ready" | "wait" | "done" {
  const { stream, totals, sent, targetUsd } = state;
  if (stream.requests !== undefined) return sent < stream.requests ? "ready" : "done";
  if (targetUsd === undefined) return "ready";
  if (totals.spendUsd >= targetUsd) return "done";
  const inFlight = sent - totals.requests;
  const perRequest = costPerRequest(state);
  if (perRequest === undefined) return sent === 0 || inFlight === 0 ? "ready" : "wait";
  return totals.spendUsd + inFlight * perRequest >= targetUsd ? "wait" : "ready";
}

/** Runs the scenario's traffic and returns what was sent and spent. */
export async function runTraffic(
  scenario: Scenario,
  options: TrafficOptions,
): Promise<TrafficResult> {
  const now = options.now ?? (() => Date.now());
  const sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  const send = options.fetch ?? fetch;
  const maxRequests = Math.min(scenario.maxRequests, options.maxRequests ?? Infinity);
  const maxMs = Math.min(scenario.maxSeconds, options.maxSeconds ?? Infinity) * 1000;
  const startedAt = now();

  const states: StreamState[] = scenario.streams.map((stream) => {
    const tenant = billedTenant(stream.tenant, options.thresholds);
    const threshold = thresholdOf(tenant, options.thresholds);
    return {
      stream,
      sent: 0,
      targetUsd: stream.thresholdFactor !== undefined && threshold !== undefined
        ? stream.thresholdFactor * threshold
        : undefined,
      totals: {
        tenant,
        requestedTenant: stream.tenant,
        model: stream.model,
        intendedModel: stream.intendedModel,
        requests: 0,
        failed: 0,
        spendUsd: 0,
        inputTokens: 0,
        errors: {},
      },
    };
  });
  const rate = scenario.rate;
  const rateTotal = rate ? Math.round(rate.requestsPerSecond * rate.seconds) : undefined;
  let sent = 0;
  let answered = 0;
  let failed = 0;
  let cursor = 0;
  let stoppedBy: string | undefined;

  const estimatedTotal = () =>
    rateTotal ?? states.reduce((n, state) => n + estimatedRequests(state), 0);

  /** The next stream to send for (round-robin), "wait", or "done". */
  const nextStream = (): StreamState | "wait" | "done" => {
    let waiting = false;
    for (let i = 0; i < states.length; i++) {
      const state = states[(cursor + i) % states.length];
      const status = streamStatus(state);
      if (status === "ready") {
        cursor = (cursor + i + 1) % states.length;
        return state;
      }
      waiting ||= status === "wait";
    }
    return waiting ? "wait" : "done";
  };

  /** When request number `index` may start. */
  const startTime = (index: number): number => {
    if (rate) return startedAt + (index / rate.requestsPerSecond) * 1000;
    if (scenario.spreadSeconds <= 0) return startedAt;
    return startedAt + (index / Math.max(estimatedTotal(), 1)) * scenario.spreadSeconds * 1000;
  };

  const requestOnce = async (state: StreamState, index: number) => {
    const { stream, totals } = state;
    const prompt = stream.tutorialPrompt
      ? tutorialPrompt(index)
      : fillerPrompt(stream.promptTokens, index);
    let error: string | undefined;
    try {
      const response = await send(`${options.appUrl}/v1/inference`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          prompt,
          model: stream.model,
          tenant: stream.tenant,
          max_tokens: stream.maxTokens,
        }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        error = body?.error?.type ?? `http_${response.status}`;
      } else {
        totals.spendUsd += typeof body.cost_usd === "number" ? body.cost_usd : 0;
        totals.inputTokens += typeof body.input_tokens === "number" ? body.input_tokens : 0;
      }
    } catch (caught) {
      error = caught instanceof TypeError ? "connection_failed" : "request_failed";
    }
    totals.requests++;
    answered++;
    if (error) {
      totals.failed++;
      failed++;
      totals.errors[error] = (totals.errors[error] ?? 0) + 1;
    }
    options.onResponse?.({
      done: answered,
      estimatedTotal: Math.max(estimatedTotal(), answered),
      spendUsd: states.reduce((sum, s) => sum + s.totals.spendUsd, 0),
    });
  };

  const worker = async () => {
    while (true) {
      const next = nextStream();
      if (next === "done") return;
      if (sent >= maxRequests) {
        stoppedBy ??= `the ${maxRequests}-request bound`;
        return;
      }
      const elapsed = now() - startedAt;
      if (elapsed >= maxMs) {
        stoppedBy ??= `the ${maxMs / 1000}-second bound`;
        return;
      }
      if (rateTotal !== undefined && sent >= rateTotal) return;
      if (answered >= 10 && failed / answered > 0.5) {
        stoppedBy ??= `more than half of ${answered} requests failing`;
        return;
      }
      if (next === "wait") {
        await sleep(20);
        continue;
      }
      const index = sent++;
      next.sent++;
      const wait = startTime(index) - now();
      if (wait > 0) await sleep(Math.min(wait, maxMs - elapsed));
      await requestOnce(next, next.sent - 1);
    }
  };

  await Promise.all(Array.from({ length: scenario.concurrency }, worker));
  return { startedAt, endedAt: now(), totals: states.map((s) => s.totals), stoppedBy };
}
