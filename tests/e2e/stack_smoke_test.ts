/**
 * The native stack as real processes on random ports: each component's API answers, and a span
 * sent to the collector over OTLP/HTTP comes out of Jaeger's query API.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { startStack } from "../../scripts/stack.ts";
import { eventually, fetchJson } from "../helpers/poll.ts";

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test({
  name: "the native stack starts on random ports, each API answers, and a span reaches Jaeger",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const started = Date.now();
    const deadline = started + 110_000;
    const stack = await startStack({ ports: "random", readyTimeoutMs: 60_000 });
    try {
      // Prometheus: ready, and its target list is the configured scrape jobs.
      await fetch(`${stack.urls.prometheus}/-/ready`).then((r) =>
        r.body?.cancel() ?? assert.fail()
      );
      // Target discovery runs just after start: poll until the configured jobs are listed.
      const targets = await eventually(
        "Prometheus listing its scrape targets",
        deadline,
        async () => {
          const listed = await fetchJson<{
            data: { activeTargets: Array<{ labels: { job: string }; scrapeUrl: string }> };
          }>(`${stack.urls.prometheus}/api/v1/targets`);
          return listed.data.activeTargets.length >= 5 ? listed : undefined;
        },
      );
      const jobs = targets.data.activeTargets.map((t) => t.labels.job).sort();
      assert.deepEqual(jobs, [
        "alertmanager",
        "inference-cost-tracker",
        "jaeger",
        "otel-collector",
        "prometheus",
      ]);
      for (const target of targets.data.activeTargets) {
        assert.match(target.scrapeUrl, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      }
      // Prometheus scrapes itself: its own target turns up.
      await eventually("Prometheus scraping itself", deadline, async () => {
        const result = await fetchJson<{ data: { result: Array<{ value: [number, string] }> } }>(
          `${stack.urls.prometheus}/api/v1/query?query=${
            encodeURIComponent('up{job="prometheus"}')
          }`,
        );
        return result.data.result[0]?.value[1] === "1" ? true : undefined;
      });

      // Built from their Go modules, Prometheus and Alertmanager have no UI: a page says so and
      // lists the API, where a browser (or an alert's link) lands; their links use 127.0.0.1.
      for (
        const [url, api] of [
          [`${stack.urls.prometheus}/`, "/api/v1/query"],
          [`${stack.urls.prometheus}/graph?g0.expr=up`, "/api/v1/query"],
          [`${stack.urls.alertmanager}/`, "/api/v2/alerts"],
        ]
      ) {
        const page = await fetch(url);
        assert.equal(page.status, 200, url);
        assert.match(page.headers.get("content-type") ?? "", /^text\/html/, url);
        const html = await page.text();
        assert.match(html, /built from its Go module/, url);
        assert.ok(html.includes(`href="${api}`), `${url} does not link ${api}`);
      }
      const flags = await fetchJson<{ data: Record<string, string> }>(
        `${stack.urls.prometheus}/api/v1/status/flags`,
      );
      assert.equal(flags.data["web.external-url"], stack.urls.prometheus);
      // compose's 35d, as Prometheus prints it.
      assert.equal(flags.data["storage.tsdb.retention.time"], "5w");

      // Alertmanager: ready, single instance, routing to the alert receiver.
      const status = await fetchJson<{ cluster: { status: string }; config: { original: string } }>(
        `${stack.urls.alertmanager}/api/v2/status`,
      );
      assert.equal(status.cluster.status, "disabled");
      // Alertmanager shows webhook URLs as <secret>: check the routing, not the URL.
      const config = parse(status.config.original) as {
        route: { receiver: string };
        receivers: Array<{ name: string; webhook_configs?: unknown[] }>;
      };
      assert.equal(config.route.receiver, "alert-receiver");
      assert.equal(
        config.receivers.find((r) => r.name === "alert-receiver")?.webhook_configs?.length,
        1,
      );

      // The collector: health extension answers; the alert receiver holds no alerts yet.
      const health = await fetchJson<{ status: string }>(stack.urls.collectorHealth);
      assert.equal(health.status, "Server available");
      assert.deepEqual(await fetchJson(`${stack.urls.alertReceiver}/alerts`), { alerts: [] });

      // One span in over OTLP/HTTP JSON, out of Jaeger's query API.
      const traceId = randomHex(16);
      const spanId = randomHex(8);
      const now = BigInt(Date.now()) * 1_000_000n;
      const service = `stack-smoke-${randomHex(4)}`;
      const response = await fetch(`${stack.urls.otlpHttp}/v1/traces`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          resourceSpans: [{
            resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
            scopeSpans: [{
              scope: { name: "stack-smoke" },
              spans: [{
                traceId,
                spanId,
                name: "smoke span",
                kind: 2,
                startTimeUnixNano: String(now - 5_000_000n),
                endTimeUnixNano: String(now),
                attributes: [{ key: "inference.cost_usd", value: { doubleValue: 0.0125 } }],
              }],
            }],
          }],
        }),
      });
      assert.equal(response.status, 200, await response.text());

      const trace = await eventually("the span in Jaeger", deadline, async () => {
        const found = await fetchJson<{
          data: Array<{
            traceID: string;
            spans: Array<{
              spanID: string;
              operationName: string;
              tags: Array<{ key: string; value: unknown }>;
            }>;
            processes: Record<string, { serviceName: string }>;
          }>;
        }>(`${stack.urls.jaeger}/api/traces/${traceId}`).catch(() => undefined);
        return found?.data?.[0];
      });
      assert.equal(trace.traceID, traceId);
      assert.equal(trace.spans[0].spanID, spanId);
      assert.equal(trace.spans[0].operationName, "smoke span");
      assert.equal(trace.spans[0].tags.find((t) => t.key === "inference.cost_usd")?.value, 0.0125);
      assert.deepEqual(Object.values(trace.processes).map((p) => p.serviceName), [service]);
      const services = await fetchJson<{ data: string[] }>(`${stack.urls.jaeger}/api/services`);
      assert.ok(services.data.includes(service), `${service} not in ${services.data}`);
    } finally {
      await stack.stop();
    }
    // Every process is gone after stop().
    for (const component of stack.components) {
      assert.throws(() => Deno.kill(component.pid, "SIGCONT"), `${component.name} still runs`);
    }
    assert.ok(Date.now() - started < 120_000, `took ${(Date.now() - started) / 1000} s`);
  },
});

Deno.test({
  name: "a component that dies while starting fails startStack naming it, and the rest are stopped",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const rulesDir = await Deno.makeTempDir({ prefix: "ict-bad-rules-" });
    await Deno.writeTextFile(
      `${rulesDir}/broken.rules.yml`,
      "groups:\n  - name: broken\n    rules:\n      - alert: Broken\n        expr: sum(\n",
    );
    const dataDir = await Deno.makeTempDir({ prefix: "ict-stack-failing-" });
    try {
      const started = Date.now();
      await assert.rejects(
        startStack({ ports: "random", rulesDir, dataDir, readyTimeoutMs: 60_000 }),
        /^Error: prometheus exited with code \d+ before it was ready[\s\S]*unclosed left parenthesis/,
      );
      assert.ok(Date.now() - started < 30_000, "did not fail fast");
      // The pid file is gone and no process of that stack is left.
      await assert.rejects(Deno.stat(`${dataDir}/stack.json`), Deno.errors.NotFound);
      const leftovers = [];
      for await (const entry of Deno.readDir("/proc")) {
        if (!/^\d+$/.test(entry.name)) continue;
        const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
        if (cmdline.includes(dataDir)) leftovers.push(cmdline.replaceAll("\0", " "));
      }
      assert.deepEqual(leftovers, []);
    } finally {
      await Deno.remove(rulesDir, { recursive: true });
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
