/**
 * `deno task screenshot`: starts a live-page server with a demo tenants file, sends it a burst of
 * requests of several tenants and models, opens the page in headless Chromium while more arrive,
 * and saves what the browser shows to docs/img/live-page.png. The picture is always made this
 * way, never drawn by hand.
 */
import { startLiveServer } from "./live/harness.ts";
import type { RequestSpec } from "./live/harness.ts";
import { launchChromium } from "./live/browser.ts";

const OUT = new URL("../docs/img/live-page.png", import.meta.url).pathname;

/** Thresholds and budgets small enough for a few requests to move the bars. */
const DEMO_TENANTS = {
  tenants: [
    { id: "team-search", hourly_alert_threshold_usd: 0.5, budgets: { day: "5" } },
    { id: "team-chat", hourly_alert_threshold_usd: 0.05, budgets: { hour: "0.1", day: "2" } },
    { id: "team-internal", hourly_alert_threshold_usd: 0.02, budgets: { hour: "0.05" } },
    { id: "default", hourly_alert_threshold_usd: 0.25 },
  ],
};

const TRAFFIC: readonly Omit<RequestSpec, "requestId">[] = [
  { tenant: "team-search", model: "gpt-4o-mini", input: 2_400, cachedInput: 1_024, output: 310 },
  { tenant: "team-chat", model: "claude-sonnet-4.5", input: 5_200, cacheWrite: 2_048, output: 880 },
  {
    tenant: "team-chat",
    model: "claude-sonnet-4.5",
    input: 6_100,
    cachedInput: 2_048,
    output: 1_020,
  },
  { tenant: "team-internal", model: "gpt-5", input: 3_900, output: 2_400, reasoning: 1_600 },
  {
    tenant: "team-search",
    model: "gpt-4.1-mini",
    input: 1_800,
    output: 240,
    route: "/v1/inference",
  },
  {
    tenant: "team-chat",
    model: "claude-haiku-4.5",
    input: 900,
    output: 150,
    route: "/v1/messages",
  },
  { tenant: "team-internal", model: "gpt-5", input: 4_800, output: 3_100, reasoning: 2_200 },
  { tenant: "default", model: "llama-3.1-70b", input: 1_200, output: 400 },
  {
    tenant: "team-chat",
    model: "claude-sonnet-4.5",
    input: 0,
    output: 0,
    status: "budget_exceeded",
    errorType: "budget_exceeded",
  },
  { tenant: "team-search", model: "gpt-4o", input: 3_300, output: 500, status: "client_closed" },
  { tenant: "team-internal", model: "gpt-5", input: 2_600, output: 1_900, reasoning: 1_100 },
  { tenant: "team-search", model: "gpt-4o-mini", input: 2_100, cachedInput: 1_024, output: 280 },
];

async function main() {
  const dir = await Deno.makeTempDir({ prefix: "live-screenshot-" });
  const tenantsFile = `${dir}/tenants.json`;
  await Deno.writeTextFile(tenantsFile, JSON.stringify(DEMO_TENANTS));
  const server = await startLiveServer({
    env: { TENANTS_FILE: tenantsFile, JAEGER_UI_URL: "http://localhost:16686" },
  });
  const browser = await launchChromium();
  try {
    const specs = TRAFFIC.map((spec, i) => ({
      ...spec,
      requestId: `req-${(0x5a17 + i * 7919).toString(16)}`,
      traceId: crypto.randomUUID().replaceAll("-", ""),
    }));
    await server.send(specs.slice(0, 8));
    // Reduced motion: the newest row's arrival flash would be caught half-way.
    const page = await browser.newPage({
      viewport: { width: 1360, height: 1080 },
      reducedMotion: "reduce",
    });
    await page.goto(server.url);
    await page.locator('#status[data-state="live"]').waitFor();
    // The rest arrive while the page is open, as the newest rows.
    const live = await server.send(specs.slice(8));
    await page.locator(`tr[data-request-id="${live.at(-1)!.requestId}"]`).waitFor();
    await Deno.mkdir(new URL("../docs/img/", import.meta.url), { recursive: true });
    await page.screenshot({ path: OUT, fullPage: true });
    console.log(`screenshot: wrote ${OUT}`);
  } finally {
    await browser.close();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

main();
