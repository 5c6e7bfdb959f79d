/**
 * The spike's summary: a table of requests and spend per billed tenant and model against each
 * tenant's hourly threshold, and --verify's timings; plus the same as JSON for tests.
 */
import type { Scenario } from "./scenarios.ts";
import { type StreamTotals, thresholdOf, type Thresholds, type TrafficResult } from "./traffic.ts";
import { type AlertProgress, describeAlert } from "./verify.ts";

/** `93.4 s` / `6m 41s` */
export function formatSeconds(seconds: number): string {
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}m ${String(whole % 60).padStart(2, "0")}s`;
}

/** `151%`, `0.01%` */
function percent(ratio: number): string {
  const value = ratio * 100;
  return `${value < 1 ? value.toFixed(2) : Math.round(value)}%`;
}

function table(rows: string[][], rightAligned: Set<number>): string {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) =>
    row.map((cell, column) =>
      rightAligned.has(column) ? cell.padStart(widths[column]) : cell.padEnd(widths[column])
    ).join("  ").trimEnd()
  ).join("\n");
}

/** Rows per billed tenant and model, grouped by tenant, with tenant subtotals and a total. */
export function summaryTable(totals: StreamTotals[], thresholds: Thresholds): string {
  const merged = new Map<string, StreamTotals>();
  for (const t of totals) {
    const key = `${t.tenant}\u0000${t.model}`;
    const into = merged.get(key);
    if (!into) {
      merged.set(key, { ...t, errors: { ...t.errors } });
      continue;
    }
    into.requests += t.requests;
    into.failed += t.failed;
    into.spendUsd += t.spendUsd;
    into.inputTokens += t.inputTokens;
    for (const [type, n] of Object.entries(t.errors)) {
      into.errors[type] = (into.errors[type] ?? 0) + n;
    }
  }
  const byTenant = new Map<string, StreamTotals[]>();
  for (const t of merged.values()) byTenant.set(t.tenant, [...(byTenant.get(t.tenant) ?? []), t]);

  const rows: string[][] = [[
    "tenant",
    "model",
    "requests",
    "failed",
    "spend USD",
    "threshold USD/h",
    "of threshold",
  ]];
  let requests = 0;
  let failed = 0;
  let spend = 0;
  for (const [tenant, models] of [...byTenant].sort(([a], [b]) => a.localeCompare(b))) {
    const threshold = thresholdOf(tenant, thresholds);
    const tenantSpend = models.reduce((sum, m) => sum + m.spendUsd, 0);
    for (const m of models) {
      const requested = m.requestedTenant !== m.tenant ? ` (sent as ${m.requestedTenant})` : "";
      const intended = m.intendedModel ? ` (meant for ${m.intendedModel})` : "";
      rows.push([
        `${tenant}${requested}`,
        `${m.model}${intended}`,
        String(m.requests),
        m.failed > 0
          ? `${m.failed} (${
            Object.entries(m.errors).map(([type, n]) => `${n} ${type}`).join(", ")
          })`
          : "0",
        m.spendUsd.toFixed(4),
        "",
        "",
      ]);
      requests += m.requests;
      failed += m.failed;
      spend += m.spendUsd;
    }
    rows.push([
      `${tenant} in all`,
      "",
      "",
      "",
      tenantSpend.toFixed(4),
      threshold === undefined ? "?" : threshold.toFixed(2),
      threshold ? percent(tenantSpend / threshold) : "",
    ]);
  }
  rows.push(["total", "", String(requests), String(failed), spend.toFixed(4), "", ""]);
  return table(rows, new Set([2, 4, 5, 6]));
}

/** Timings of --verify, per expected alert, from the scenario's start. */
export function verifyTable(progress: AlertProgress[], startedAt: number): string {
  const at = (time?: number) => time === undefined ? "-" : formatSeconds((time - startedAt) / 1000);
  const rows = [["alert", "pending", "firing", "Alertmanager", "webhook"]];
  for (const p of progress) {
    rows.push([
      describeAlert(p.expected),
      at(p.pendingAt),
      at(p.firingAt),
      at(p.alertmanagerAt),
      at(p.receiverAt),
    ]);
  }
  return table(rows, new Set([1, 2, 3, 4]));
}

/** The machine-readable summary (`--json`). */
export interface SpikeReport {
  scenario: string;
  startedAt: string;
  trafficSeconds: number;
  requests: number;
  failed: number;
  spendUsd: number;
  stoppedBy?: string;
  totals: StreamTotals[];
  verify?: {
    ok: boolean;
    boundSeconds: number;
    /** Seconds from the scenario's start. */
    alerts: Array<{
      alertname: string;
      labels: Record<string, string>;
      pendingAfter?: number;
      firingAfter?: number;
      alertmanagerAfter?: number;
      webhookAfter?: number;
    }>;
    quietSeen?: string[];
    error?: string;
  };
}

export function spikeReport(
  scenario: Scenario,
  traffic: TrafficResult,
  startedAt: number,
): SpikeReport {
  return {
    scenario: scenario.name,
    startedAt: new Date(startedAt).toISOString(),
    trafficSeconds: (traffic.endedAt - traffic.startedAt) / 1000,
    requests: traffic.totals.reduce((n, t) => n + t.requests, 0),
    failed: traffic.totals.reduce((n, t) => n + t.failed, 0),
    spendUsd: traffic.totals.reduce((n, t) => n + t.spendUsd, 0),
    stoppedBy: traffic.stoppedBy,
    totals: traffic.totals,
  };
}

/** Seconds since `startedAt`, or undefined. */
export function after(time: number | undefined, startedAt: number): number | undefined {
  return time === undefined ? undefined : Math.round((time - startedAt) / 100) / 10;
}
