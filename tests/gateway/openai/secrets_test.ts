/**
 * A configured upstream key must never appear anywhere the server writes: log lines, /metrics,
 * spans (names, attributes, events, status), response bodies and headers (errors included, even
 * when the provider echoes the key back), streams, /v1/models. The fake upstream echoes the key
 * it received in its error messages, as some providers do.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import {
  type FakeBehaviour,
  fakeProviders,
  startFakeUpstream,
  startGateway,
  UPSTREAM_KEY,
} from "../../helpers/fake_upstream.ts";
import { hashApiKey } from "../../../src/tenants/tenants.ts";
import { withJsonFile } from "../../helpers/files.ts";

const CLIENT_KEY = "tenant-key-of-team-chat";
const MESSAGES = [{ role: "user" as const, content: "Say hello." }];

/** Every scenario that makes the server write something about an upstream call. */
const SCENARIOS: FakeBehaviour[] = [
  { mode: "ok" },
  {
    mode: "status",
    status: 401,
    errorBody: { error: { message: "Incorrect API key provided: $KEY", code: "invalid_api_key" } },
  },
  {
    mode: "status",
    status: 400,
    errorBody: { error: { message: "key $KEY may not use this", type: "$KEY", param: "$KEY" } },
  },
  {
    mode: "status",
    status: 400,
    errorBody: { type: "error", error: { type: "invalid_request_error", message: "bad $KEY" } },
  },
  { mode: "status", status: 500, errorBody: { error: { message: "oops $KEY" } } },
  { mode: "truncate", chunks: 1 },
];

Deno.test("a configured upstream key never appears in logs, metrics, spans, bodies or /v1/models, and the client's key never goes upstream", async () => {
  const tenants = {
    tenants: [
      { id: "default", hourly_alert_threshold_usd: 25 },
      {
        id: "team-chat",
        hourly_alert_threshold_usd: 100,
        api_keys: [{ name: "ci", sha256: hashApiKey(CLIENT_KEY) }],
      },
    ],
  };
  await withJsonFile(tenants, async (tenantsFile) => {
    const fake = startFakeUpstream();
    const gateway = await startGateway(fakeProviders(fake), { TENANTS_FILE: tenantsFile });
    const written: string[] = [];
    // Everything the SDKs receive, raw, before they parse it.
    const recordingFetch = async (url: string | URL | Request, init?: RequestInit) => {
      const response = await fetch(url, init);
      const text = await response.text();
      written.push(JSON.stringify([...response.headers]), text);
      return new Response(text, { status: response.status, headers: response.headers });
    };
    const openai = new OpenAI({
      apiKey: CLIENT_KEY,
      baseURL: `${gateway.url}/v1`,
      maxRetries: 0,
      fetch: recordingFetch,
    });
    const anthropic = new Anthropic({
      apiKey: CLIENT_KEY,
      baseURL: gateway.url,
      maxRetries: 0,
      fetch: recordingFetch,
    });
    try {
      for (const behaviour of SCENARIOS) {
        fake.behaviour = behaviour;
        for (const stream of [false, true]) {
          await openai.chat.completions.create({ model: "gpt-4o-mini", messages: MESSAGES, stream })
            .then(async (r) => {
              if (Symbol.asyncIterator in r) { for await (const _ of r) { /* drain */ } }
            })
            .catch(() => {});
          await anthropic.messages.create({
            model: "claude-3.5-sonnet",
            max_tokens: 10,
            messages: MESSAGES,
            stream,
          }).then(async (r) => {
            if (Symbol.asyncIterator in r) { for await (const _ of r) { /* drain */ } }
          }).catch(() => {});
        }
      }
      for (const path of ["/v1/models", "/metrics", "/health"]) {
        const res = await fetch(`${gateway.url}${path}`, {
          headers: { authorization: `Bearer ${CLIENT_KEY}` },
        });
        written.push(await res.text());
      }
      const spans = gateway.exporter.getFinishedSpans().map((s) =>
        JSON.stringify({
          name: s.name,
          attributes: s.attributes,
          events: s.events,
          status: s.status,
          resource: s.resource.attributes,
        })
      );

      // The fake really did receive (and echo) the key: the test can see a leak.
      assert.ok(fake.requests.length >= SCENARIOS.length * 4);
      const echoed = written.filter((w) => w.includes("[redacted]"));
      assert.ok(echoed.length > 0, "the echoed key was redacted somewhere");

      const places = {
        logs: gateway.logLines,
        responses: written,
        spans,
        metrics: [await gateway.services.metrics.registry.metrics()],
      };
      for (const [place, lines] of Object.entries(places)) {
        const leaks = lines.filter((line) => line.includes(UPSTREAM_KEY));
        assert.deepEqual(leaks, [], `the upstream key appears in ${place}`);
      }
      for (const request of fake.requests) {
        const sent = JSON.stringify(request);
        assert.equal(sent.includes(CLIENT_KEY), false, "the client's key went upstream");
      }
    } finally {
      await gateway.stop();
      await fake.stop();
    }
  });
});
