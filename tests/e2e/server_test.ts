import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { startOtlpReceiver, startServer } from "../helpers/server.ts";
import { eventually, within } from "../helpers/poll.ts";
import { parseExposition, total } from "../helpers/prom.ts";

const EXAMPLE = {
  prompt: "Explain transformers in 3 sentences",
  model: "gpt-4o-mini",
  tenant: "team-search",
};

Deno.test("the real server prices requests, exposes them on /metrics and exports spans over OTLP", async () => {
  const receiver = startOtlpReceiver();
  const server = await startServer({
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_SERVICE_NAME: "inference-cost-tracker",
  });
  let exitCode: number | undefined;
  try {
    const bodies = [];
    for (const tenant of ["team-search", "team-chat", "someone-else"]) {
      const res = await fetch(`${server.url}/v1/inference`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...EXAMPLE, tenant }),
      });
      assert.equal(res.status, 200);
      bodies.push(await res.json());
    }
    assert.deepEqual(
      bodies.map((b) => [b.input_tokens, b.output_tokens, b.cost_usd]),
      [[6, 10, 0.0000069], [6, 10, 0.0000069], [6, 10, 0.0000069]],
    );
    const bad = await fetch(`${server.url}/v1/inference`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    assert.equal(bad.status, 400);
    await bad.body?.cancel();

    const scrape = await fetch(`${server.url}/metrics`);
    const m = parseExposition(await scrape.text());
    assert.equal(total(m, "inference_cost_usd_total"), 3 * 0.0000069);
    assert.equal(total(m, "inference_cost_usd_total", { tenant: "other" }), 0.0000069);
    assert.equal(total(m, "inference_requests_total", { status: "bad_request" }), 1);
    assert.equal(total(m, "inference_cost_alert_threshold_usd", { tenant: "team-internal" }), 10);

    const spans = await eventually("three inference_request spans", within(15_000), () => {
      const found = receiver.spans.filter((s) => s.name === "inference_request");
      return found.length >= 3 ? found : undefined;
    });
    const ok = spans.filter((s) => s.attributes["inference.status"] === "ok");
    assert.equal(ok.length, 3);
    for (const span of ok) {
      assert.equal(span.resource["service.name"], "inference-cost-tracker");
      assert.equal(span.attributes["inference.cost_usd"], 0.0000069);
      assert.equal(span.attributes["gen_ai.usage.input_tokens"], 6);
      assert.equal(span.attributes["gen_ai.usage.output_tokens"], 10);
      assert.equal(span.attributes["gen_ai.request.model"], "gpt-4o-mini");
    }
    assert.deepEqual(
      ok.map((s) => s.attributes["inference.tenant"]).sort(),
      ["other", "team-chat", "team-search"],
    );
  } finally {
    exitCode = await server.stop("SIGTERM");
    await receiver.stop();
  }
  assert.equal(exitCode, 0);
});

Deno.test("with no collector listening requests are served normally", async () => {
  const server = await startServer({
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9",
  });
  try {
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${server.url}/v1/inference`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(EXAMPLE),
      });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).cost_usd, 0.0000069);
    }
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

Deno.test("a bad PRICING_FILE stops start-up with an error naming the field", async () => {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        pricing_version: "x",
        effective_date: "2026-01-01",
        currency: "EUR",
        models: {},
      }),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "src/main.ts"],
      cwd: new URL("../../", import.meta.url).pathname,
      env: { PRICING_FILE: path, PORT: "0" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 2);
    assert.match(new TextDecoder().decode(out.stderr), /PRICING_FILE: .*currency/);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("a ledger written by a newer server stops start-up with an error naming LEDGER_URL", async () => {
  const dir = await Deno.makeTempDir({ prefix: "newer-ledger-" });
  try {
    const path = `${dir}/ledger.sqlite`;
    const db = new DatabaseSync(path);
    db.exec(
      "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)",
    );
    db.exec("INSERT INTO schema_migrations VALUES (999, 'from the future', 0)");
    db.close();
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "src/main.ts"],
      cwd: new URL("../../", import.meta.url).pathname,
      env: { LEDGER_URL: `sqlite:${path}`, PORT: "0", HOST: "127.0.0.1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 2);
    assert.match(
      new TextDecoder().decode(out.stderr),
      /configuration error: LEDGER_URL: cannot open the ledger: .*version 999, newer than this server's/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
