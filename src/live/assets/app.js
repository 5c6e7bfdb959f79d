// The live cost page's only script: reads the event stream with fetch (so an API key can travel
// in a header), keeps the totals and the last 50 requests up to date, and reconnects with backoff.
// It builds the same markup as the server's render (src/live/panels.tsx) and shows numbers by the
// same rules (src/live/view.ts). Money is summed as BigInt picodollars, never as floats.

const KEY_STORE = "inference-cost-tracker.live-key";
const RECENT = 50;
const WINDOWS = ["hour", "day", "month"];
const TOKEN_KINDS = [
  ["input", "Input"],
  ["cached_input", "Cached input"],
  ["cache_write", "Cache writes"],
  ["output", "Output"],
  ["reasoning", "Reasoning"],
];
const PICO_PER_USD = 1_000_000_000_000n;
// No byte for this long (the server sends a heartbeat every 15 s) means a dead connection.
const SILENCE_MS = 45_000;

let key = sessionStorage.getItem(KEY_STORE);
let summary = null;
let lastEventId = null;
let retryMs = 0;
let connection = null;
let totalsPending = false;

const $ = (selector) => document.querySelector(selector);

// ---- formatting: the rules of src/live/view.ts ----

function groupDigits(text) {
  return text.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function exactUsd(pico) {
  const padded = pico.toString().padStart(13, "0");
  const fraction = padded.slice(-12).replace(/0+$/, "");
  return fraction ? `${padded.slice(0, -12)}.${fraction}` : padded.slice(0, -12);
}

function usdText(pico) {
  if (pico >= PICO_PER_USD) {
    const cents = (pico + 5_000_000_000n) / 10_000_000_000n;
    return `$${groupDigits((cents / 100n).toString())}.${
      (cents % 100n).toString().padStart(2, "0")
    }`;
  }
  const drop = pico.toString().length - 4;
  if (drop <= 0) return `$${exactUsd(pico)}`;
  const unit = 10n ** BigInt(drop);
  return `$${exactUsd((pico + unit / 2n) / unit * unit)}`;
}

function countText(n) {
  return groupDigits(String(n));
}

function barState(spend, alert, budget, refusals) {
  const near = budget !== null && spend * 10n >= budget * 8n;
  if (budget !== null && spend >= budget) return "over";
  if (near && refusals > 0) return "over";
  if (alert !== null && spend >= alert) return "warn";
  if (near) return "warn";
  return "ok";
}

const big = (text) => (text === null ? null : BigInt(text));

// ---- markup ----

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined && value !== false) el.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) el.append(child);
  }
  return el;
}

function usdEl(pico, field) {
  if (pico === null) return h("span", { class: "none", "data-field": field }, "—");
  return h(
    "span",
    {
      class: "usd",
      "data-field": field,
      "data-pico": pico,
      title: `$${exactUsd(BigInt(pico))} exact`,
    },
    usdText(BigInt(pico)),
  );
}

function setUsd(el, pico) {
  el.dataset.pico = pico;
  el.title = `$${exactUsd(BigInt(pico))} exact`;
  el.textContent = usdText(BigInt(pico));
}

function limitText(alert, budget, state) {
  const parts = [];
  if (alert !== null) parts.push(`alert ${usdText(alert)}`);
  if (budget !== null) parts.push(`budget ${usdText(budget)}`);
  const limits = parts.length ? parts.join(" · ") : "no limit";
  return state === "over" ? `${limits} — reached` : state === "warn" ? `${limits} — near` : limits;
}

function tenantCell(kind, row) {
  if (!row) return h("td", { "data-window": kind, "data-state": "ok" }, "—");
  const spend = BigInt(row.cost_pico);
  const alert = big(row.alert_threshold_pico);
  const budget = big(row.budget_pico);
  const state = barState(spend, alert, budget, row.budget_refusals);
  const scale = budget ?? alert;
  const meter = scale === null ? null : h("meter", {
    min: "0",
    max: String(Number(scale) / 1e12),
    value: String(Number(spend < scale ? spend : scale) / 1e12),
    "data-state": state,
    "aria-label": `${row.tenant} ${kind} spend of ${usdText(scale)}`,
  });
  return h(
    "td",
    { "data-window": kind, "data-state": state },
    usdEl(row.cost_pico),
    meter,
    h("span", { class: "limit" }, limitText(alert, budget, state)),
  );
}

function tokensTitle(tokens) {
  return TOKEN_KINDS.map(([k, label]) => `${label}: ${countText(tokens[k])}`).join(", ");
}

function traceCell(e) {
  if (e.trace_url) {
    return h(
      "a",
      { href: e.trace_url, rel: "noopener noreferrer", target: "_blank" },
      h("code", {}, e.trace_id.slice(0, 8)),
    );
  }
  if (e.trace_id) return h("code", { title: e.trace_id }, e.trace_id.slice(0, 8));
  return "—";
}

function requestRow(e) {
  return h(
    "tr",
    { "data-request-id": e.request_id, "data-status": e.status },
    h("td", {}, h("time", { datetime: e.time, title: e.time }, e.time.slice(11, 19))),
    h("td", {}, h("code", {}, e.request_id)),
    h("td", {}, e.tenant),
    h("td", {}, h("code", {}, e.model)),
    h("td", {}, h("code", {}, e.route)),
    h(
      "td",
      { class: "num", title: tokensTitle(e.tokens) },
      `${countText(e.tokens.input)} / ${countText(e.tokens.output)}`,
    ),
    h("td", { class: "num" }, usdEl(e.cost_pico)),
    h(
      "td",
      {},
      h("span", { class: "status", "data-status": e.status, title: e.error_type }, e.status),
    ),
    h("td", {}, e.usage_source),
    h("td", {}, traceCell(e)),
  );
}

// ---- rendering the state ----

function renderCards() {
  for (const kind of WINDOWS) {
    const card = document.querySelector(`.card[data-window="${kind}"]`);
    const total = summary.windows[kind].total;
    setUsd(card.querySelector('[data-field="cost"]'), total.cost_pico);
    for (const field of ["requests", "errors", "unpriced", "budget_refusals"]) {
      card.querySelector(`[data-field="${field}"]`).textContent = countText(total[field]);
    }
    for (const [k] of TOKEN_KINDS) {
      card.querySelector(`[data-field="tokens.${k}"]`).textContent = countText(total.tokens[k]);
    }
    const start = summary.windows[kind].start;
    card.querySelector('[data-field="since"]').textContent = "since " +
      (kind === "hour"
        ? `${start.slice(11, 16)} UTC`
        : kind === "day"
        ? `${start.slice(0, 10)} UTC`
        : start.slice(0, 7));
  }
}

function renderTenants() {
  const rows = summary.windows.month.tenants.map((month) =>
    h(
      "tr",
      { "data-tenant": month.tenant },
      h("th", { scope: "row" }, month.tenant),
      WINDOWS.map((kind) =>
        tenantCell(kind, summary.windows[kind].tenants.find((t) => t.tenant === month.tenant))
      ),
      h("td", { class: "num", "data-field": "requests" }, countText(month.requests)),
    )
  );
  $("#tenant-rows").replaceChildren(...rows);
}

function renderModels() {
  const month = [...summary.windows.month.models].sort((a, b) => {
    const diff = BigInt(b.cost_pico) - BigInt(a.cost_pico);
    return diff === 0n ? a.model.localeCompare(b.model) : diff > 0n ? 1 : -1;
  });
  const rows = month.map((m) =>
    h(
      "tr",
      { "data-model": m.model },
      h("th", { scope: "row" }, h("code", {}, m.model)),
      WINDOWS.map((kind) =>
        h(
          "td",
          { class: "num", "data-window": kind },
          usdEl(summary.windows[kind].models.find((x) => x.model === m.model)?.cost_pico ?? "0"),
        )
      ),
      h("td", { class: "num" }, countText(m.requests)),
      h("td", { class: "num" }, `${countText(m.tokens.input)} / ${countText(m.tokens.output)}`),
    )
  );
  if (rows.length === 0) {
    rows.push(
      h("tr", { class: "empty" }, h("td", { colspan: "6" }, "No requests this month yet.")),
    );
  }
  $("#model-rows").replaceChildren(...rows);
}

function renderTotals() {
  totalsPending = false;
  renderCards();
  renderTenants();
  renderModels();
}

function scheduleTotals() {
  if (totalsPending) return;
  totalsPending = true;
  requestAnimationFrame(renderTotals);
}

function renderAll() {
  $("#scope").textContent = summary.tenant === null ? "All tenants" : `Tenant ${summary.tenant}`;
  $("#request-rows").replaceChildren(...summary.recent.map(requestRow));
  renderTotals();
}

// ---- applying events ----

function addTo(totals, e) {
  totals.cost_pico = (BigInt(totals.cost_pico) + BigInt(e.cost_pico ?? "0")).toString();
  totals.requests += 1;
  if (e.status !== "ok" && e.status !== "budget_exceeded") totals.errors += 1;
  if (e.unpriced) totals.unpriced += 1;
  if (e.status === "budget_exceeded") totals.budget_refusals += 1;
  for (const [k] of TOKEN_KINDS) totals.tokens[k] += e.tokens[k];
}

function zeroTotals() {
  return {
    cost_pico: "0",
    requests: 0,
    errors: 0,
    unpriced: 0,
    budget_refusals: 0,
    tokens: { input: 0, cached_input: 0, cache_write: 0, output: 0, reasoning: 0 },
  };
}

function applyEvent(e) {
  for (const kind of WINDOWS) {
    const w = summary.windows[kind];
    // ISO times of one format compare as strings. An event past the window's end waits for the
    // snapshot the server sends at the boundary.
    if (e.time < w.start || e.time >= w.end) continue;
    addTo(w.total, e);
    let tenant = w.tenants.find((t) => t.tenant === e.tenant);
    if (!tenant) w.tenants.push(tenant = { tenant: e.tenant, ...zeroTotals(), ...w.other_limits });
    addTo(tenant, e);
    let model = w.models.find((m) => m.model === e.model);
    if (!model) w.models.push(model = { model: e.model, ...zeroTotals() });
    addTo(model, e);
  }
  summary.recent.unshift(e);
  summary.recent.length = Math.min(summary.recent.length, RECENT);
  const rows = $("#request-rows");
  rows.prepend(requestRow(e));
  while (rows.children.length > RECENT) rows.lastElementChild.remove();
  scheduleTotals();
}

function onFrame(event, id, data) {
  if (id) lastEventId = id;
  if (event === "snapshot") {
    summary = JSON.parse(data);
    retryMs = 0;
    renderAll();
    setStatus("live", "Live");
  } else if (event === "request" && summary) {
    const e = JSON.parse(data);
    retryMs = 0;
    // Right after a snapshot, an event may already be in it: its row is then on the page.
    if (summary.recent.some((r) => r.request_id === e.request_id)) return;
    applyEvent(e);
  }
}

// ---- the connection ----

function setStatus(state, text) {
  const status = $("#status");
  status.dataset.state = state;
  status.textContent = text;
}

function parseBlock(block) {
  let event = "message";
  let id = null;
  const data = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "id") id = value;
    else if (field === "data") data.push(value);
  }
  if (data.length) onFrame(event, id, data.join("\n"));
}

async function connect() {
  connection?.abort();
  const controller = new AbortController();
  connection = controller;
  const headers = { accept: "text/event-stream" };
  if (key) headers.authorization = `Bearer ${key}`;
  if (lastEventId) headers["last-event-id"] = lastEventId;
  let silence;
  const watch = () => {
    clearTimeout(silence);
    silence = setTimeout(() => controller.abort(), SILENCE_MS);
  };
  try {
    const response = await fetch("/live/events", {
      headers,
      signal: controller.signal,
      cache: "no-store",
    });
    if (response.status === 401 || response.status === 403) {
      askForKey(key ? "That key was not accepted." : "");
      return;
    }
    if (!response.ok || !response.body) throw new Error(`status ${response.status}`);
    watch();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      watch();
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        parseBlock(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  } catch {
    // A refused or dropped connection: retried below, like a stream the server ended.
  } finally {
    clearTimeout(silence);
  }
  // A connection replaced by a newer one, or ended to ask for a key, is not retried.
  if (connection === controller) reconnect();
}

function reconnect() {
  retryMs = Math.min(10_000, Math.max(500, retryMs * 2));
  const wait = Math.round(retryMs * (0.8 + Math.random() * 0.4));
  setStatus("reconnecting", `Reconnecting in ${Math.ceil(wait / 1000)} s…`);
  setTimeout(connect, wait);
}

function askForKey(message) {
  connection = null;
  key = null;
  sessionStorage.removeItem(KEY_STORE);
  $("#key-form").hidden = false;
  $("#key-error").textContent = message;
  $("#forget-key").hidden = true;
  setStatus("key", "API key needed");
  $("#key").focus();
}

function start() {
  $("#key-form").addEventListener("submit", (submit) => {
    submit.preventDefault();
    key = $("#key").value.trim();
    $("#key").value = "";
    sessionStorage.setItem(KEY_STORE, key);
    $("#key-form").hidden = true;
    $("#forget-key").hidden = false;
    setStatus("connecting", "Connecting…");
    connect();
  });
  $("#forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORE);
    // A fresh load leaves no tenant's figures on the page.
    location.reload();
  });
  if (key) $("#forget-key").hidden = false;
  // The server asked for a key (it rendered no figures) and this tab holds none: ask first.
  if (!key && !$("#key-form").hidden) askForKey("");
  else connect();
}

start();
