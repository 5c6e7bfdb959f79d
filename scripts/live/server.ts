/**
 * A test server for the live page until the gateway publishes to it: the live routes on a Hono
 * app with an in-memory hub, fed by usage records this script builds and prices with the real
 * price table when the test writes a line to its stdin. Its events are also appended to
 * LIVE_STORE_FILE and read back at start-up, standing in for the spend ledger across a restart.
 *
 * stdin, one JSON object a line ({@link RequestSpec}) → stdout `{"published": <the event as the
 * stream sends it>}`. The first stdout line is `{"msg":"listening","url":…}`.
 */
import { INVALID_SPAN_CONTEXT, trace } from "@opentelemetry/api";
import { Hono } from "hono";
import { z } from "zod";
import { costOf, embeddedPriceTable } from "../../src/pricing/pricing.ts";
import { picoToUsd } from "../../src/pricing/money.ts";
import { embeddedTenantDirectory, loadTenantDirectory } from "../../src/tenants/tenants.ts";
import { createLiveHub } from "../../src/live/hub.ts";
import { createMemoryLiveData } from "../../src/live/data.ts";
import { authorizeWithTenants } from "../../src/live/access.ts";
import { type LiveEvent, liveEventFromRecord } from "../../src/live/event.ts";
import { registerLiveRoutes } from "../../src/live/routes.ts";
import { eventToWire } from "../../src/live/wire.ts";
import type { UsageRecord } from "../../src/usage/record.ts";
import { reachedModel } from "../../src/usage/record.ts";
import type { RequestStatus } from "../../src/telemetry/names.ts";

/** One finished request for the server to publish. */
export const requestSpec = z.object({
  requestId: z.string(),
  tenant: z.string(),
  model: z.string(),
  route: z.string().default("/v1/chat/completions"),
  input: z.number().int().nonnegative(),
  cachedInput: z.number().int().nonnegative().default(0),
  cacheWrite: z.number().int().nonnegative().default(0),
  output: z.number().int().nonnegative(),
  reasoning: z.number().int().nonnegative().default(0),
  status: z.string().default("ok"),
  errorType: z.string().optional(),
  traceId: z.string().optional(),
});
/** The input of {@link requestSpec}. */
export type RequestSpec = z.input<typeof requestSpec>;

const env = Deno.env.toObject();
const tenants = env.TENANTS_FILE
  ? loadTenantDirectory(env.TENANTS_FILE)
  : embeddedTenantDirectory();
const prices = embeddedPriceTable();
const storeFile = env.LIVE_STORE_FILE;
const hub = createLiveHub();
const data = createMemoryLiveData();

function toRecord(spec: z.output<typeof requestSpec>): UsageRecord {
  const price = prices.resolve(spec.model);
  const usage = {
    inputTokens: spec.input,
    cachedInputTokens: spec.cachedInput,
    cacheWriteTokens: spec.cacheWrite,
    outputTokens: spec.output,
  };
  // As the gateway does: a request refused before the model (a budget, a bad key) costs nothing.
  const costPico = price && reachedModel({ status: spec.status as RequestStatus })
    ? costOf(price, usage).totalPico
    : null;
  return {
    requestId: spec.requestId,
    span: trace.wrapSpanContext(INVALID_SPAN_CONTEXT),
    operation: "chat",
    provider: price?.provider ?? "simulated",
    requestModel: spec.model,
    price,
    modelLabel: price?.id ?? "unknown",
    tenant: tenants.byRequestedId(spec.tenant),
    usage,
    usageSource: reachedModel({ status: spec.status as RequestStatus }) ? "provider" : "estimated",
    tokenCountMethod: "exact",
    costPico,
    priceTier: null,
    costUsd: costPico === null ? null : picoToUsd(costPico),
    durationSeconds: 0.01,
    status: spec.status as RequestStatus,
    errorType: spec.errorType,
  };
}

function eventOf(spec: z.output<typeof requestSpec>, time: Date): LiveEvent {
  const record = { ...toRecord(spec), reasoningTokens: spec.reasoning };
  return liveEventFromRecord(record, { time, traceId: spec.traceId, route: spec.route });
}

// The stand-in ledger: what earlier runs published counts toward this run's totals.
if (storeFile) {
  try {
    for (const line of Deno.readTextFileSync(storeFile).split("\n")) {
      if (!line) continue;
      const stored = JSON.parse(line);
      data.add(eventOf(requestSpec.parse(stored.spec), new Date(stored.time)));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

const app = new Hono();
registerLiveRoutes(app, {
  hub,
  data,
  tenants,
  authorize: authorizeWithTenants(tenants),
  jaegerUiUrl: env.JAEGER_UI_URL,
  heartbeatMs: 5_000,
});

const encoder = new TextEncoder();
const out = (value: unknown) => Deno.stdout.writeSync(encoder.encode(JSON.stringify(value) + "\n"));

Deno.serve({
  hostname: "127.0.0.1",
  port: Number(env.PORT ?? 0),
  onListen: ({ port }) => out({ msg: "listening", url: `http://127.0.0.1:${port}` }),
}, app.fetch);

let buffer = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  buffer += chunk;
  let nl;
  while ((nl = buffer.indexOf("\n")) !== -1) {
    const spec = requestSpec.parse(JSON.parse(buffer.slice(0, nl)));
    buffer = buffer.slice(nl + 1);
    const time = new Date();
    if (storeFile) {
      Deno.writeTextFileSync(storeFile, JSON.stringify({ spec, time }) + "\n", { append: true });
    }
    // As at wiring: the store has the row before the event is published.
    const event = eventOf(spec, time);
    data.add(event);
    hub.publish(event);
    out({ published: eventToWire(event, env.JAEGER_UI_URL) });
  }
}
