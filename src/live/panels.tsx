/**
 * The parts of the live page: the spend cards, the tenant and model tables and a request row,
 * each rendered from the snapshot's JSON. assets/app.js builds the same markup in the browser.
 */
import type { FC } from "hono/jsx";
import { barScale, type BarState, barState, countText, timeText, usdText } from "./view.ts";
import type { summaryToWire } from "./wire.ts";

/** The snapshot as sent to clients. */
export type WireSummary = ReturnType<typeof summaryToWire>;
type WireWindow = WireSummary["windows"][string];
type WireTotals = WireWindow["total"];
type WireEvent = WireSummary["recent"][number];

/** The three windows, in the page's order. */
export const WINDOWS = [
  { kind: "hour", title: "This hour" },
  { kind: "day", title: "Today" },
  { kind: "month", title: "This month" },
] as const;

const TOKEN_KINDS = [
  ["input", "Input"],
  ["cached_input", "Cached input"],
  ["cache_write", "Cache writes"],
  ["output", "Output"],
  ["reasoning", "Reasoning"],
] as const;

const Usd: FC<{ pico: string | null; field?: string }> = ({ pico, field }) =>
  pico === null
    ? <span class="none" data-field={field}>—</span>
    : (
      <span class="usd" data-field={field} data-pico={pico} title={`$${exactUsd(pico)} exact`}>
        {usdText(BigInt(pico))}
      </span>
    );

function exactUsd(pico: string): string {
  const padded = pico.padStart(13, "0");
  const whole = padded.slice(0, -12);
  const fraction = padded.slice(-12).replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : whole;
}

/** One window's spend card. */
export const SpendCard: FC<{ kind: string; title: string; window: WireWindow | null }> = (
  { kind, title, window },
) => {
  const t = window?.total;
  return (
    <article class="card" data-window={kind}>
      <h3>
        {title}{" "}
        <small data-field="since">{window ? `since ${sinceText(kind, window.start)}` : ""}</small>
      </h3>
      <p class="big">
        <Usd pico={t?.cost_pico ?? "0"} field="cost" />
      </p>
      <dl class="counts">
        <Count label="Requests" field="requests" value={t?.requests ?? 0} />
        <Count label="Errors" field="errors" value={t?.errors ?? 0} />
        <Count label="Unpriced" field="unpriced" value={t?.unpriced ?? 0} />
        <Count label="Budget refusals" field="budget_refusals" value={t?.budget_refusals ?? 0} />
      </dl>
      <dl class="tokens">
        {TOKEN_KINDS.map(([key, label]) => (
          <div>
            <dt>{label}</dt>
            <dd>
              <span data-field={`tokens.${key}`}>{countText(t?.tokens[key] ?? 0)}</span> tok
            </dd>
          </div>
        ))}
      </dl>
    </article>
  );
};

function sinceText(kind: string, startIso: string): string {
  return kind === "hour"
    ? `${startIso.slice(11, 16)} UTC`
    : kind === "day"
    ? `${startIso.slice(0, 10)} UTC`
    : startIso.slice(0, 7);
}

const Count: FC<{ label: string; field: string; value: number }> = ({ label, field, value }) => (
  <div>
    <dt>{label}</dt>
    <dd data-field={field}>{countText(value)}</dd>
  </div>
);

type WireTenant = WireWindow["tenants"][number];

const TenantCell: FC<{ kind: string; row: WireTenant | undefined }> = ({ kind, row }) => {
  if (!row) return <td data-window={kind} data-state="ok">—</td>;
  const spend = BigInt(row.cost_pico);
  const alert = row.alert_threshold_pico === null ? null : BigInt(row.alert_threshold_pico);
  const budget = row.budget_pico === null ? null : BigInt(row.budget_pico);
  const state: BarState = barState(spend, alert, budget, row.budget_refusals);
  const scale = barScale(alert, budget);
  return (
    <td data-window={kind} data-state={state}>
      <Usd pico={row.cost_pico} />
      {scale !== null && (
        <meter
          min="0"
          max={picoNumber(scale)}
          value={picoNumber(spend < scale ? spend : scale)}
          data-state={state}
          aria-label={`${row.tenant} ${kind} spend of ${usdText(scale)}`}
        />
      )}
      <span class="limit">{limitText(alert, budget, state)}</span>
    </td>
  );
};

/** USD as a float, only for a meter's length (display, never arithmetic). */
function picoNumber(pico: bigint): string {
  return (Number(pico) / 1e12).toString();
}

function limitText(alert: bigint | null, budget: bigint | null, state: BarState): string {
  const parts = [];
  if (alert !== null) parts.push(`alert ${usdText(alert)}`);
  if (budget !== null) parts.push(`budget ${usdText(budget)}`);
  const limits = parts.length ? parts.join(" · ") : "no limit";
  return state === "over" ? `${limits} — reached` : state === "warn" ? `${limits} — near` : limits;
}

/** The tenant rows: spend per window against limits. */
export const Tenants: FC<{ summary: WireSummary | null }> = ({ summary }) => {
  const ids = summary?.windows.month.tenants.map((t) => t.tenant) ?? [];
  return (
    <tbody id="tenant-rows">
      {ids.map((id) => (
        <tr data-tenant={id}>
          <th scope="row">{id}</th>
          {WINDOWS.map(({ kind }) => (
            <TenantCell
              kind={kind}
              row={summary!.windows[kind].tenants.find((t) => t.tenant === id)}
            />
          ))}
          <td class="num" data-field="requests">
            {countText(summary!.windows.month.tenants.find((t) => t.tenant === id)!.requests)}
          </td>
        </tr>
      ))}
    </tbody>
  );
};

/** The model rows, dearest this month first. */
export const Models: FC<{ summary: WireSummary | null }> = ({ summary }) => {
  const month = summary?.windows.month.models ?? [];
  return (
    <tbody id="model-rows">
      {month.length === 0 && (
        <tr class="empty">
          <td colspan={6}>No requests this month yet.</td>
        </tr>
      )}
      {month.map((m) => (
        <tr data-model={m.model}>
          <th scope="row">
            <code>{m.model}</code>
          </th>
          {WINDOWS.map(({ kind }) => (
            <td class="num" data-window={kind}>
              <Usd pico={modelIn(summary!.windows[kind], m.model)?.cost_pico ?? "0"} />
            </td>
          ))}
          <td class="num">{countText(m.requests)}</td>
          <td class="num">
            {countText(m.tokens.input)} / {countText(m.tokens.output)}
          </td>
        </tr>
      ))}
    </tbody>
  );
};

function modelIn(window: WireWindow, model: string): WireTotals | undefined {
  return window.models.find((m) => m.model === model);
}

/** One row of the recent requests table. */
export const RequestRow: FC<{ e: WireEvent }> = ({ e }) => (
  <tr data-request-id={e.request_id} data-status={e.status}>
    <td>
      <time datetime={e.time} title={e.time}>{timeText(e.time)}</time>
    </td>
    <td>
      <code>{e.request_id}</code>
    </td>
    <td>{e.tenant}</td>
    <td>
      <code>{e.model}</code>
    </td>
    <td>
      <code>{e.route}</code>
    </td>
    <td class="num" title={tokensTitle(e.tokens)}>
      {countText(e.tokens.input)} / {countText(e.tokens.output)}
    </td>
    <td class="num">
      <Usd pico={e.cost_pico} />
    </td>
    <td>
      <span class="status" data-status={e.status} title={e.error_type ?? undefined}>
        {e.status}
      </span>
    </td>
    <td>{e.usage_source}</td>
    <td>
      {e.trace_url
        ? (
          <a href={e.trace_url} rel="noopener noreferrer" target="_blank">
            <code>{e.trace_id!.slice(0, 8)}</code>
          </a>
        )
        : e.trace_id
        ? <code title={e.trace_id}>{e.trace_id.slice(0, 8)}</code>
        : "—"}
    </td>
  </tr>
);

function tokensTitle(t: WireEvent["tokens"]): string {
  return TOKEN_KINDS.map(([key, label]) => `${label}: ${countText(t[key])}`).join(", ");
}
