/**
 * The whole native stack with the app, as real processes on random ports: priced requests go in
 * through POST /v1/inference, and each component's own API shows what the response bodies said —
 * Prometheus (targets up, cost totals, exemplars), Jaeger (the requests' spans), Alertmanager and
 * the webhook receiver (an alert Prometheus fired). Prometheus loads the shipped alerts/ rules plus
 * tests/e2e/fixtures/rules/, whose one alert fires within seconds.
 */
import assert from "node:assert/strict";
import { startStack } from "../../scripts/stack.ts";
import { todaysPriceFile } from "../helpers/prices.ts";
import {
  assertAlertDelivered,
  assertCostTotals,
  assertExemplarsLinkToTraces,
  assertRulesHealthy,
  assertTracesInJaeger,
  type PricedRequest,
  rulesDirWithFixture,
  SCRAPE_JOBS,
  sendPricedRequests,
  type StackFigures,
  waitAppScrapedAfter,
  waitTargetsUp,
} from "./fixtures/stack_checks.ts";

/** The whole test's bound: start, one scrape interval (15 s) or two, group_wait (10 s), stop. */
const TEST_BOUND_MS = 150_000;

/** Marks a promise's rejection as handled until a step awaits it (awaiting still throws). */
function watch<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? "-" : `${(ms / 1000).toFixed(1)} s`;
}

Deno.test({
  name:
    "on the native stack, a priced request's cost reaches Prometheus, Jaeger and exemplars, and a fired alert reaches Alertmanager and the receiver",
  // The stack's processes and their fetches outlive single steps by design; stop() ends them.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const started = Date.now();
    const bound = started + TEST_BOUND_MS;
    const rules = await rulesDirWithFixture();
    await using prices = await todaysPriceFile();
    const figures: StackFigures = {};
    let stack: Awaited<ReturnType<typeof startStack>> | undefined;
    try {
      stack = await startStack({
        ports: "random",
        withApp: true,
        appEnv: { PRICING_FILE: prices.path },
        rulesDir: rules.dir,
        readyTimeoutMs: 60_000,
      });
      const { urls } = stack;
      assert.ok(urls.app, "startStack({ withApp: true }) gave no app URL");
      const endpoints = {
        app: urls.app,
        prometheus: urls.prometheus,
        alertmanager: urls.alertmanager,
        alertReceiver: urls.alertReceiver,
        jaeger: urls.jaeger,
      };
      const readyAt = Date.now();

      const requests: PricedRequest[] = await sendPricedRequests(endpoints.app);
      const lastAnswerAt = Date.now();
      // Followed from now on, while the other steps wait for Prometheus, so the figures are the
      // real delays; each step below awaits its watch.
      const jaegerWatch = watch(
        assertTracesInJaeger(endpoints.jaeger, requests, started, lastAnswerAt + 30_000)
          .then(() => Date.now()),
      );
      const alertWatch = watch(assertAlertDelivered(endpoints, lastAnswerAt + 60_000));

      await t.step(
        "each request's trace is found in Jaeger by service with its body's cost_usd",
        async () => {
          figures.jaegerTracesFoundMs = await jaegerWatch - lastAnswerAt;
        },
      );

      await t.step(
        "every scrape target (app, collector, Jaeger, Alertmanager, Prometheus) is up",
        async () => {
          const up = await waitTargetsUp(endpoints.prometheus, SCRAPE_JOBS, Date.now() + 40_000);
          for (const job of SCRAPE_JOBS) assert.equal(up[job], 1, job);
        },
      );

      await t.step(
        "inference_cost_usd_total per model and tenant equals the sum of the bodies' cost_usd",
        async () => {
          // One scrape interval is 15 s; allow two and a slow scrape.
          const scrapedAt = await waitAppScrapedAfter(
            endpoints.prometheus,
            lastAnswerAt,
            lastAnswerAt + 40_000,
          );
          figures.scrapeAfterLastRequestMs = scrapedAt - lastAnswerAt;
          await assertCostTotals(endpoints.prometheus, requests, Date.now() + 5_000);
        },
      );

      await t.step(
        "exemplars on inference_cost_per_request_usd carry trace ids Jaeger has",
        async () => {
          const checked = await assertExemplarsLinkToTraces(
            endpoints,
            requests,
            started,
            Date.now() + 20_000,
          );
          assert.ok(checked > 0);
        },
      );

      await t.step(
        "an alert Prometheus fires reaches Alertmanager and the webhook receiver",
        async () => {
          const { firedAt, receivedAt } = await alertWatch;
          figures.alertFiredMs = firedAt - lastAnswerAt;
          figures.alertAtReceiverMs = receivedAt - lastAnswerAt;
        },
      );

      await t.step(
        "the shipped alert rules load and evaluate without error on live data",
        async () => {
          // A group's first evaluation comes within one of its intervals (60 s at most) of start.
          await assertRulesHealthy(endpoints.prometheus, rules.files, readyAt + 75_000);
          figures.rulesEvaluatedMs = Date.now() - readyAt;
        },
      );

      console.log(
        `figures: stack ready ${seconds(readyAt - started)}; after the last request: ` +
          `traces in Jaeger ${seconds(figures.jaegerTracesFoundMs)}, ` +
          `app scraped ${seconds(figures.scrapeAfterLastRequestMs)}, ` +
          `alert fired ${seconds(figures.alertFiredMs)}, ` +
          `at the receiver ${seconds(figures.alertAtReceiverMs)}; ` +
          `every rule group evaluated ${seconds(figures.rulesEvaluatedMs)} after ready`,
      );
    } finally {
      await stack?.stop();
      await Deno.remove(rules.dir, { recursive: true });
    }
    for (const component of stack?.components ?? []) {
      assert.throws(() => Deno.kill(component.pid, "SIGCONT"), `${component.name} still runs`);
    }
    assert.ok(Date.now() < bound, `took ${seconds(Date.now() - started)}`);
  },
});
