/**
 * The performance targets (docs/benchmarks.md, "Targets"): each scenario reports the figures it
 * measures under a target's id, and the run ends with one table of what / measured / target, so a
 * single run gives every figure side by side with its goal.
 */
import type { Table, TargetFigure, TargetId } from "./context.ts";

export type { TargetFigure, TargetId };

/** One target: what is measured, the goal as written, and how to judge a figure against it. */
export interface TargetSpec {
  readonly id: TargetId;
  readonly what: string;
  readonly target: string;
  /** Which scenario measures it (`--only=<scenario>`). */
  readonly scenario: string;
  readonly met: (value: number) => boolean;
}

/** Every target, in the order the table lists them. */
export const TARGETS: readonly TargetSpec[] = [
  {
    id: "stream-vs-proxy",
    what: "streamed chat (16 chunks + usage), gateway ÷ bare pass-through proxy",
    target: "≥ 0.5×",
    scenario: "floor",
    met: (v) => v >= 0.5,
  },
  {
    id: "plain-vs-proxy",
    what: "plain chat, gateway ÷ bare pass-through proxy",
    target: "≥ 0.7×",
    scenario: "floor",
    met: (v) => v >= 0.7,
  },
  {
    id: "inference-vs-hono",
    what: "`/v1/inference`, default settings (no span export), ÷ bare Hono",
    target: "≥ 0.5×",
    scenario: "floor",
    met: (v) => v >= 0.5,
  },
  {
    id: "traced-vs-hono",
    what: "`/v1/inference`, every request traced and exported, ÷ bare Hono",
    target: "≥ 0.35×",
    scenario: "floor",
    met: (v) => v >= 0.35,
  },
  {
    id: "ledger-cost",
    what: "`/v1/inference` with the SQLite ledger on ÷ with it off (requests/s)",
    target: "≥ 0.9× (≤ 10 % fewer)",
    scenario: "floor",
    met: (v) => v >= 0.9,
  },
  {
    id: "ledger-cost-gateway",
    what: "plain chat through the gateway with the SQLite ledger on ÷ with it off (requests/s)",
    target: "≥ 0.9× (≤ 10 % fewer)",
    scenario: "floor",
    met: (v) => v >= 0.9,
  },
  {
    id: "gateway-p99-1000",
    what: "gateway added latency at 1,000 req/s, p99",
    target: "≤ +2 ms",
    scenario: "gateway",
    met: (v) => v <= 2,
  },
  {
    id: "stream-ttft-p99",
    what: "streaming, added time to first token, p99 at one client",
    target: "≤ 5 ms",
    scenario: "streaming",
    met: (v) => v <= 5,
  },
  {
    id: "metrics-render",
    what: "`/metrics` render with 10,000 series",
    target: "≤ 50 ms",
    scenario: "metrics",
    met: (v) => v <= 50,
  },
];

/**
 * The targets table from every scenario's figures. A smoke run measures smaller setups (fewer
 * series, lower rates), so its figures are printed but not judged.
 */
export function targetsTable(
  figures: Partial<Record<TargetId, TargetFigure>>,
  judge: boolean,
): Table {
  return {
    title: "Targets",
    headers: ["what", "measured", "target"],
    rows: TARGETS.map((t) => {
      const f = figures[t.id];
      if (!f) return [t.what, `not measured (scenario ${t.scenario})`, t.target];
      const judged = judge && Number.isFinite(f.value);
      const verdict = judged ? (t.met(f.value) ? " — met" : " — missed") : "";
      return [t.what, `**${f.text}**`, `${t.target}${verdict}`];
    }),
  };
}
