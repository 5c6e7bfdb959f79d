/**
 * A 60-second PostgreSQL outage under load, as three replicas sharing one ledger database see it:
 * three real servers, each with its own outbox, serve a steady mix of billed requests (all five
 * routes, four tenants) before, during and after the database is stopped. Every response during
 * the outage is a normal answer (rows wait in the outboxes, whose backlog the metric shows); once
 * PostgreSQL is back, every replica's /v1/spend counts each request once and equals, to the
 * picodollar, what the clients were told.
 */
import assert from "node:assert/strict";
import { startPostgres } from "../helpers/postgres.ts";
import { parseExposition, total } from "../helpers/prom.ts";
import { type RunningServer, startServer } from "../helpers/server.ts";
import {
  assertSpendEquals,
  BILLED_AS,
  costOf,
  Expected,
  mixedCall,
} from "../helpers/billed_calls.ts";

const REPLICAS = 3;
const OUTAGE_MS = 60_000;
/** Clients sending one request after another, each to the next replica in turn. */
const CLIENTS = 3;
/** A client's pause between requests: a steady load, not a flood (~30 requests/s in all). */
const PAUSE_MS = 100;

async function metric(replica: RunningServer, name: string): Promise<number> {
  const text = await (await fetch(`${replica.url}/metrics`)).text();
  return total(parseExposition(text), name);
}

Deno.test(`a ${OUTAGE_MS / 1000} s PostgreSQL outage under load: three replicas keep answering, and once it is back every replica's /v1/spend counts each request once, to the picodollar`, async () => {
  const startedAt = Date.now();
  const postgres = await startPostgres();
  const dir = await Deno.makeTempDir({ prefix: "ict-outage-" });
  const replicas: RunningServer[] = [];
  let exitCodes: number[] = [];
  try {
    replicas.push(
      ...await Promise.all(Array.from({ length: REPLICAS }, (_, i) =>
        startServer({
          LEDGER_URL: postgres.url,
          LEDGER_OUTBOX: `${dir}/outbox-${i + 1}.sqlite`,
          SIM_MODE: "realistic",
          SIM_TTFT_MS: "0",
          SIM_TOKEN_MS: "0",
          OTEL_TRACES_EXPORTER: "none",
        }))),
    );
    const expected = new Expected();
    let sent = 0;
    let phase: "before" | "outage" | "after" = "before";
    const perPhase = { before: 0, outage: 0, after: 0 };
    let stopLoad = false;
    const load = Promise.all(Array.from({ length: CLIENTS }, async () => {
      while (!stopLoad) {
        const i = sent++;
        const { tenant, call } = mixedCall(i);
        const cost = await costOf(replicas[i % REPLICAS].url, call, tenant);
        assert.notEqual(cost, null, `request ${i} was refused`);
        expected.add(BILLED_AS[tenant] ?? tenant, call.route, cost);
        perPhase[phase]++;
        await new Promise((r) => setTimeout(r, PAUSE_MS));
      }
    }));

    await new Promise((r) => setTimeout(r, 3_000));
    phase = "outage";
    await postgres.stop();
    const outageEnds = Date.now() + OUTAGE_MS;
    let peakBacklog = 0;
    while (Date.now() < outageEnds) {
      await new Promise((r) => setTimeout(r, 5_000));
      const backlog = (await Promise.all(
        replicas.map((r) => metric(r, "inference_ledger_outbox_backlog")),
      )).reduce((a, b) => a + b, 0);
      peakBacklog = Math.max(peakBacklog, backlog);
    }
    await postgres.start();
    phase = "after";
    await new Promise((r) => setTimeout(r, 3_000));
    stopLoad = true;
    await load;

    assert.ok(perPhase.outage >= 300, `only ${perPhase.outage} requests during the outage`);
    // Nearly every request of the outage waited in an outbox (a few may have shipped just before).
    assert.ok(
      peakBacklog >= perPhase.outage * 0.9,
      `peak backlog ${peakBacklog} for ${perPhase.outage} requests during the outage`,
    );
    const range = { fromMs: startedAt - 60_000, toMs: Date.now() + 3_600_000 };
    for (const replica of replicas) await assertSpendEquals(replica.url, expected, range);
    const backlogs = await Promise.all(
      replicas.map((r) => metric(r, "inference_ledger_outbox_backlog")),
    );
    assert.deepEqual(backlogs, [0, 0, 0]);
    const writeErrors = await Promise.all(
      replicas.map((r) => metric(r, "inference_ledger_write_errors_total")),
    );
    assert.deepEqual(writeErrors, [0, 0, 0]);
    console.log(
      `outage: ${sent} requests (${perPhase.before} before, ${perPhase.outage} during the ` +
        `${OUTAGE_MS / 1000} s outage, ${perPhase.after} after) over ${REPLICAS} replicas; peak ` +
        `outbox backlog ${peakBacklog}; /v1/spend total ${expected.costPico} pico on every ` +
        `replica; ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
    );
  } finally {
    exitCodes = await Promise.all(replicas.map((r) => r.stop()));
    await postgres.destroy();
    await Deno.remove(dir, { recursive: true });
  }
  assert.deepEqual(exitCodes, [0, 0, 0], "a replica did not stop cleanly");
});
