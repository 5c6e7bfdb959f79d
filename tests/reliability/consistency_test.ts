/**
 * Counter consistency against the real server: 24 concurrent clients for a few seconds over every
 * API (plain and streamed), while /metrics is scraped every 100 ms in both formats. Every scrape
 * shows counters that never go down, and the final one equals, per model and tenant, the sum of
 * what the response bodies reported: tokens exactly, cost within the float rule (relative 1e-9).
 */
import assert from "node:assert/strict";
import { type RunningServer, startServer } from "../helpers/server.ts";
import { type Exposition, parseExposition, total } from "../helpers/prom.ts";
import { costOf, embeddedPriceTable } from "../../src/pricing/pricing.ts";

const CLIENTS = 24;
const LOAD_MS = 5000;
const MODELS = ["gpt-4o-mini", "gpt-4o", "claude-3.5-haiku", "llama-3.1-70b"];
const TENANTS = ["team-search", "team-chat", "team-internal", "someone-else"];
const COUNTERS = [
  "inference_cost_usd_total",
  "inference_input_tokens_total",
  "inference_output_tokens_total",
  "inference_requests_total",
];

interface Expected {
  pico: bigint;
  input: number;
  output: number;
  ok: number;
}

/** What one answered request reported: its model label, tenant label and usage. */
interface Reported {
  model: string;
  tenant: string;
  input: number;
  output: number;
  /** `cost_usd` or the `x-inference-cost-usd` header, when the API gives one. */
  costUsd?: number;
}

const prices = embeddedPriceTable();
const tenantLabel = (t: string) => t === "someone-else" ? "other" : t;

async function oneRequest(url: string, i: number): Promise<Reported | "refused"> {
  const model = MODELS[i % MODELS.length];
  const tenant = TENANTS[Math.floor(i / MODELS.length) % TENANTS.length];
  const headers = { "content-type": "application/json", "x-tenant-id": tenant };
  const prompt = `request ${i}: explain transformers in ${i % 7} sentences`;
  const kind = i % 6;
  if (kind === 5) {
    const res = await fetch(`${url}/v1/inference`, {
      method: "POST",
      headers,
      body: JSON.stringify({ prompt, max_tokens: -1 }),
    });
    await res.body?.cancel();
    assert.equal(res.status, 400);
    return "refused";
  }
  if (kind <= 1 || model === "llama-3.1-70b") {
    const res = await fetch(`${url}/v1/inference`, {
      method: "POST",
      headers,
      body: JSON.stringify({ prompt, model, tenant, max_tokens: 24 }),
    });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    return {
      model,
      tenant: tenantLabel(tenant),
      input: body.input_tokens,
      output: body.output_tokens,
      costUsd: body.cost_usd,
    };
  }
  if (model.startsWith("claude")) {
    const res = await fetch(`${url}/v1/messages`, {
      method: "POST",
      headers,
      body: JSON.stringify({
        model,
        max_tokens: 24,
        messages: [{ role: "user", content: prompt }],
      }),
    });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    const u = body.usage;
    return {
      model,
      tenant: tenantLabel(tenant),
      input: u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens,
      output: u.output_tokens,
      costUsd: Number(res.headers.get("x-inference-cost-usd")),
    };
  }
  const stream = kind === 3;
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers,
    body: JSON.stringify({
      model,
      max_tokens: 24,
      messages: [{ role: "user", content: prompt }],
      stream,
      stream_options: stream ? { include_usage: true } : undefined,
    }),
  });
  assert.equal(res.status, 200);
  let usage;
  if (stream) {
    for (const block of (await res.text()).split("\n\n")) {
      const data = block.startsWith("data: ") ? block.slice(6) : "";
      if (data && data !== "[DONE]") usage = JSON.parse(data).usage ?? usage;
    }
  } else {
    usage = (await res.json()).usage;
  }
  return {
    model,
    tenant: tenantLabel(tenant),
    input: usage.prompt_tokens,
    output: usage.completion_tokens,
    costUsd: stream ? undefined : Number(res.headers.get("x-inference-cost-usd")),
  };
}

/** Every counter sample keyed by name and labels. */
function counterValues(m: Exposition): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of m.samples) {
    if (COUNTERS.includes(s.name)) out.set(`${s.name}${JSON.stringify(s.labels)}`, s.value);
  }
  return out;
}

async function scrape(server: RunningServer, openMetrics: boolean): Promise<Exposition> {
  const res = await fetch(`${server.url}/metrics`, {
    headers: openMetrics ? { accept: "application/openmetrics-text" } : {},
  });
  return parseExposition(await res.text());
}

Deno.test("under concurrent load with scrapes every 100 ms, the final totals equal the sum of the response bodies", async () => {
  const server = await startServer({ SIM_MODE: "realistic", SIM_TTFT_MS: "5", SIM_TOKEN_MS: "1" });
  let code: number | undefined;
  try {
    const reported: Reported[] = [];
    let refused = 0;
    let next = 0;
    const until = performance.now() + LOAD_MS;
    const clients = Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < until) {
        const r = await oneRequest(server.url, next++);
        if (r === "refused") refused++;
        else reported.push(r);
      }
    });
    let scrapes = 0;
    const regressions: string[] = [];
    let previous = new Map<string, number>();
    let loading = true;
    const scraper = (async () => {
      while (loading) {
        const current = counterValues(await scrape(server, scrapes % 2 === 1));
        for (const [key, value] of previous) {
          if ((current.get(key) ?? 0) < value) regressions.push(key);
        }
        previous = current;
        scrapes++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await Promise.all(clients);
    loading = false;
    await scraper;
    const final = await scrape(server, false);

    const expected = new Map<string, Expected>();
    for (const r of reported) {
      const key = `${r.model}|${r.tenant}`;
      const e = expected.get(key) ?? { pico: 0n, input: 0, output: 0, ok: 0 };
      const pico = costOf(prices.resolve(r.model)!, {
        inputTokens: r.input,
        cachedInputTokens: 0,
        cacheWriteTokens: 0,
        outputTokens: r.output,
      }).totalPico;
      if (r.costUsd !== undefined) {
        assert.ok(Math.abs(r.costUsd - Number(pico) / 1e12) <= 1e-15, "a body's cost is exact");
      }
      expected.set(key, {
        pico: e.pico + pico,
        input: e.input + r.input,
        output: e.output + r.output,
        ok: e.ok + 1,
      });
    }
    let totalPico = 0n;
    for (const [key, e] of expected) {
      const [model, tenant] = key.split("|");
      const labels = { model, tenant };
      const cost = total(final, "inference_cost_usd_total", labels);
      const exact = Number(e.pico) / 1e12;
      assert.ok(Math.abs(cost - exact) <= 1e-9 * exact, `${key}: cost ${cost} vs ${exact}`);
      assert.equal(total(final, "inference_input_tokens_total", labels), e.input, key);
      assert.equal(total(final, "inference_output_tokens_total", labels), e.output, key);
      assert.equal(total(final, "inference_requests_total", { ...labels, status: "ok" }), e.ok);
      totalPico += e.pico;
    }
    const allCost = total(final, "inference_cost_usd_total");
    const allExact = Number(totalPico) / 1e12;
    assert.ok(Math.abs(allCost - allExact) <= 1e-9 * allExact);
    assert.equal(total(final, "inference_requests_total", { status: "bad_request" }), refused);
    assert.deepEqual(regressions, [], "a counter went down between scrapes");
    assert.ok(scrapes >= LOAD_MS / 100 * 0.5, `only ${scrapes} scrapes`);
    console.log(
      `consistency: ${reported.length} answered + ${refused} refused requests, ${scrapes} scrapes, ` +
        `$${allCost} counted vs $${allExact} from the bodies (relative error ${
          Math.abs(allCost - allExact) / allExact
        })`,
    );
  } finally {
    code = await server.stop();
  }
  assert.equal(code, 0);
});
