/**
 * The spend ledger survives the process being killed: the real server answers requests of
 * several tenants, models and routes, is killed with SIGKILL right after the last response, and
 * restarted on the same ledger file. Its `/v1/spend` then equals, tenant by tenant and model by
 * model, the exact costs the responses stated; the CSV export has one row per request; the FOCUS
 * export's BilledCost adds up to the total; and each tenant's day budget starts where it was.
 */
import assert from "node:assert/strict";
import { isLosslessNumber, parse as parseLossless } from "lossless-json";
import { parseUsdPico } from "../../src/pricing/money.ts";
import { startServer } from "../helpers/server.ts";
import { find, parseExposition } from "../helpers/prom.ts";
import { csvObjects } from "../helpers/csv.ts";

/** Tenants with day budgets (the gauge compared across the restart); team-tiny's is too small. */
const TENANTS = {
  tenants: [
    { id: "team-search", hourly_alert_threshold_usd: 50, budgets: { day: "20" } },
    { id: "team-chat", hourly_alert_threshold_usd: 50, budgets: { day: "20", month: "100" } },
    { id: "team-tiny", hourly_alert_threshold_usd: 50, budgets: { day: "0.0001" } },
    { id: "default", hourly_alert_threshold_usd: 50 },
  ],
};

interface Call {
  readonly route: string;
  readonly model: string;
  readonly body: Record<string, unknown>;
}

/** One request per route and model: chat, messages, responses, embeddings and /v1/inference. */
function calls(i: number): Call[] {
  const prompt = `request ${i}: ` + "cost ".repeat(20 + (i % 7) * 30);
  const messages = [{ role: "user", content: prompt }];
  const max = 20 + (i % 5) * 40;
  return [
    { route: "/v1/chat/completions", model: "gpt-4o-mini", body: { messages, max_tokens: max } },
    { route: "/v1/chat/completions", model: "gpt-4o", body: { messages, max_tokens: max } },
    { route: "/v1/chat/completions", model: "llama-3.1-70b", body: { messages, max_tokens: max } },
    { route: "/v1/messages", model: "claude-3.5-sonnet", body: { messages, max_tokens: max } },
    { route: "/v1/messages", model: "claude-haiku-4.5", body: { messages, max_tokens: max } },
    { route: "/v1/responses", model: "gpt-5", body: { input: prompt, max_output_tokens: max } },
    { route: "/v1/embeddings", model: "text-embedding-3-small", body: { input: prompt } },
    { route: "/v1/inference", model: "gpt-4o-mini", body: { prompt, max_tokens: max } },
  ];
}

interface Answer {
  readonly requestId: string;
  readonly tenant: string;
  readonly model: string;
  readonly status: number;
  /** The exact cost the response stated, in picodollars (0 for a refusal). */
  readonly costPico: bigint;
}

/** Sends one request and reads its exact cost: the header, or /v1/inference's body number. */
async function send(url: string, tenant: string, call: Call): Promise<Answer> {
  const res = await fetch(`${url}${call.route}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-tenant-id": tenant },
    body: JSON.stringify({ model: call.model, ...call.body }),
  });
  const text = await res.text();
  assert.ok(res.status === 200 || res.status === 429, `${call.route} ${res.status}: ${text}`);
  let costPico = 0n;
  if (res.status === 200) {
    const header = res.headers.get("x-inference-cost-usd");
    const cost = (parseLossless(text) as { cost_usd?: unknown }).cost_usd;
    const stated = header ?? (isLosslessNumber(cost) ? cost.value : null);
    assert.ok(stated !== null, `${call.route} states no cost`);
    costPico = parseUsdPico(stated)!;
    assert.ok(costPico > 0n, `${call.route}: ${stated}`);
  }
  return {
    requestId: res.headers.get("x-request-id")!,
    tenant,
    model: call.model,
    status: res.status,
    costPico,
  };
}

/** Reads an exact USD number token (or a CSV cell) as picodollars. */
const pico = (value: unknown) => {
  const parsed = parseUsdPico(String(value));
  assert.ok(parsed !== null, `not an exact amount: ${value}`);
  return parsed;
};

async function budgetDaySpent(url: string): Promise<Record<string, number>> {
  const m = parseExposition(await (await fetch(`${url}/metrics`)).text());
  return Object.fromEntries(
    find(m, "inference_budget_spent_usd", { window: "day" }).map((s) => [s.labels.tenant, s.value]),
  );
}

Deno.test({
  name:
    "after SIGKILL right after the last response, the restarted server's spend equals every response's cost exactly",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "ledger-sigkill-" });
  const env = {
    TENANTS_FILE: `${dir}/tenants.json`,
    LEDGER_URL: `sqlite:${dir}/ledger.sqlite`,
    SIM_MODE: "realistic",
    SIM_TTFT_MS: "0",
    SIM_TOKEN_MS: "0",
  };
  await Deno.writeTextFile(env.TENANTS_FILE, JSON.stringify(TENANTS));
  const from = new Date(Date.now() - 60_000).toISOString();
  let server = await startServer(env);
  try {
    const answers: Answer[] = [];
    const tenants = ["team-search", "team-chat", "team-search", "default", "someone-else"];
    // Rounds of requests in parallel, so rows share group commits as they do under load.
    for (let round = 0; round < 6; round++) {
      const batch = calls(round).flatMap((call, i) => [
        send(server.url, tenants[(round + i) % tenants.length], call),
        ...(i === 0
          ? [send(server.url, "team-tiny", { ...call, body: { ...call.body, max_tokens: 2_000 } })]
          : []),
      ]);
      answers.push(...await Promise.all(batch));
    }
    const refused = answers.filter((a) => a.status === 429);
    assert.ok(refused.length >= 5, "team-tiny's budget refused its requests");
    assert.equal(new Set(answers.map((a) => a.requestId)).size, answers.length);
    const before = await budgetDaySpent(server.url);
    assert.ok(before["team-chat"] > 0 && before["team-search"] > 0);
    // Killed the moment the last answer is read: no shutdown, no flush.
    const code = await server.stop("SIGKILL");
    assert.notEqual(code, 0);

    server = await startServer(env);
    const to = new Date(Date.now() + 60_000).toISOString();
    const range = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;

    const expected = new Map<string, bigint>();
    for (const a of answers) {
      // Tenants as billed: an unknown demo-mode id is `other`, as in the metrics.
      const tenant = a.tenant === "someone-else" ? "other" : a.tenant;
      const key = `${tenant}|${a.model}`;
      expected.set(key, (expected.get(key) ?? 0n) + a.costPico);
    }
    const total = answers.reduce((s, a) => s + a.costPico, 0n);

    const report = parseLossless(
      await (await fetch(`${server.url}/v1/spend?${range}&group_by=tenant,model`)).text(),
    ) as {
      total: { requests: unknown; refused_requests: unknown; cost_usd: unknown };
      groups: { tenant: string; model: string; cost_usd: unknown }[];
    };
    const found = new Map(report.groups.map((g) => [`${g.tenant}|${g.model}`, pico(g.cost_usd)]));
    assert.deepEqual(
      [...found].sort(),
      [...expected].sort(),
      "spend by tenant × model equals the responses",
    );
    assert.equal(pico(report.total.cost_usd), total);
    const rows = Number(report.total.requests) + Number(report.total.refused_requests);
    assert.equal(Number(report.total.refused_requests), refused.length);

    const csv = csvObjects(
      await (await fetch(`${server.url}/v1/spend/export?format=csv&${range}`)).text(),
    );
    assert.equal(csv.length, answers.length);
    assert.deepEqual(
      csv.map((r) => r.request_id).sort(),
      answers.map((a) => a.requestId).sort(),
    );
    const focus = csvObjects(
      await (await fetch(`${server.url}/v1/spend/export?format=focus&${range}`)).text(),
    );
    assert.equal(focus.reduce((s, r) => s + pico(r.BilledCost), 0n), total);

    const after = await budgetDaySpent(server.url);
    for (const tenant of ["team-search", "team-chat", "team-tiny"]) {
      assert.equal(after[tenant], before[tenant], `${tenant}'s day budget after the restart`);
    }
    console.log(
      `ledger after SIGKILL: ${answers.length} requests answered, ${rows} rows found, ` +
        `${answers.length - rows} lost`,
    );
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
