/** The webhook receiver, in process on a fresh app each test. */
import assert from "node:assert/strict";
import {
  createAlertReceiver,
  parseListenAddress,
  type ReceivedAlert,
  type WebhookPayload,
} from "../../scripts/alert-receiver.ts";

const fixedNow = () => new Date("2026-11-25T12:00:00.000Z");

function payload(alerts: Array<Partial<WebhookPayload["alerts"][number]>>): WebhookPayload {
  return {
    version: "4",
    groupKey: '{}:{alertname="InferenceCostHigh"}',
    truncatedAlerts: 0,
    status: "firing",
    receiver: "alert-receiver",
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: "http://alertmanager:9093",
    alerts: alerts.map((alert) => ({
      status: "firing",
      labels: { alertname: "InferenceCostHigh", severity: "warning", tenant: "acme" },
      annotations: { summary: "acme spends $12.50/h over its $10 threshold" },
      startsAt: "2026-11-25T11:59:00Z",
      endsAt: "0001-01-01T00:00:00Z",
      generatorURL: "http://prometheus:9090/graph",
      fingerprint: "abc",
      ...alert,
    })),
  };
}

function post(app: ReturnType<typeof createAlertReceiver>["app"], body: unknown) {
  return app.request("/alerts", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

Deno.test("a webhook payload's alerts are kept and printed one line each", async () => {
  const lines: string[] = [];
  const { app } = createAlertReceiver({ log: (line) => lines.push(line), now: fixedNow });
  const response = await post(
    app,
    payload([{}, { labels: { alertname: "InferenceCostPerRequestSpike" } }]),
  );
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { received: 2 });
  assert.deepEqual(lines, [
    '2026-11-25T12:00:00.000Z firing InferenceCostHigh severity=warning tenant=acme summary="acme spends $12.50/h over its $10 threshold"',
    '2026-11-25T12:00:00.000Z firing InferenceCostPerRequestSpike summary="acme spends $12.50/h over its $10 threshold"',
  ]);
  const listed = await (await app.request("/alerts")).json() as { alerts: ReceivedAlert[] };
  assert.deepEqual(listed.alerts.map((a) => [a.labels.alertname, a.receiver, a.receivedAt]), [
    ["InferenceCostHigh", "alert-receiver", "2026-11-25T12:00:00.000Z"],
    ["InferenceCostPerRequestSpike", "alert-receiver", "2026-11-25T12:00:00.000Z"],
  ]);
});

Deno.test("a payload that is not Alertmanager's is rejected with 400 invalid_payload and nothing kept", async () => {
  const { app, alerts } = createAlertReceiver({ log: () => {} });
  const response = await post(app, { ...payload([{}]), version: "3" });
  assert.equal(response.status, 400);
  const body = await response.json() as { error: { type: string; message: string } };
  assert.equal(body.error.type, "invalid_payload");
  assert.match(body.error.message, /version/);
  assert.equal(alerts.length, 0);
});

Deno.test("a body that is not JSON is rejected with 400 invalid_json", async () => {
  const { app } = createAlertReceiver({ log: () => {} });
  const response = await post(app, "{not json");
  assert.equal(response.status, 400);
  assert.equal((await response.json() as { error: { type: string } }).error.type, "invalid_json");
});

Deno.test("DELETE /alerts forgets the kept alerts", async () => {
  const { app } = createAlertReceiver({ log: () => {} });
  await post(app, payload([{}]));
  assert.equal((await app.request("/alerts", { method: "DELETE" })).status, 204);
  assert.deepEqual(await (await app.request("/alerts")).json(), { alerts: [] });
});

Deno.test("only the newest maxAlerts alerts are kept", async () => {
  const { app, alerts } = createAlertReceiver({ log: () => {}, maxAlerts: 2 });
  await post(app, payload([{ fingerprint: "1" }, { fingerprint: "2" }, { fingerprint: "3" }]));
  assert.deepEqual(alerts.map((a) => a.fingerprint), ["2", "3"]);
});

Deno.test("GET /health answers ok", async () => {
  const { app } = createAlertReceiver({ log: () => {} });
  assert.deepEqual(await (await app.request("/health")).json(), { status: "ok" });
});

Deno.test("the listen address comes from --listen, then --host/--port, then the environment", () => {
  const env = (values: Record<string, string>) => (name: string) => values[name];
  assert.deepEqual(parseListenAddress(["--listen=0.0.0.0:9095"], env({})), {
    hostname: "0.0.0.0",
    port: 9095,
  });
  assert.deepEqual(parseListenAddress(["--port", "7000"], env({ ALERT_RECEIVER_PORT: "1" })), {
    hostname: "127.0.0.1",
    port: 7000,
  });
  assert.deepEqual(
    parseListenAddress([], env({ ALERT_RECEIVER_PORT: "7001", ALERT_RECEIVER_HOST: "::1" })),
    {
      hostname: "::1",
      port: 7001,
    },
  );
  assert.deepEqual(parseListenAddress([], env({})), { hostname: "127.0.0.1", port: 9095 });
  assert.throws(() => parseListenAddress(["--port=99999"], env({})), /0-65535/);
});
