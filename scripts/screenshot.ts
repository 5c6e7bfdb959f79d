/**
 * `deno task screenshot`: starts the real server (simulated model, its own temporary spend
 * ledger) with a demo tenants file, sends it a burst of real requests of several tenants, models
 * and routes, opens the page in headless Chromium while more arrive, and saves what the browser
 * shows to docs/img/live-page.png. The picture is always made this way, never drawn by hand.
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
  { tenant: "team-search", model: "gpt-4o-mini", input: 2_400, output: 310 },
  {
    tenant: "team-chat",
    model: "claude-sonnet-4.5",
    route: "/v1/messages",
    input: 5_200,
    output: 880,
  },
  { tenant: "team-internal", model: "gpt-4o", route: "/v1/responses", input: 4_000, output: 2_000 },
  {
    tenant: "team-chat",
    model: "claude-sonnet-4.5",
    route: "/v1/messages",
    input: 6_100,
    output: 1_020,
  },
  {
    tenant: "team-search",
    model: "gpt-4.1-mini",
    route: "/v1/inference",
    input: 1_800,
    output: 240,
  },
  { tenant: "team-internal", model: "gpt-4o", route: "/v1/responses", input: 2_000, output: 1_000 },
  {
    tenant: "team-chat",
    model: "claude-haiku-4.5",
    route: "/v1/messages",
    input: 900,
    output: 150,
  },
  { tenant: "default", model: "llama-3.1-70b", input: 1_200, output: 400 },
  // These arrive while the page is open.
  { tenant: "team-search", model: "gpt-5", route: "/v1/responses", input: 3_900, output: 2_400 },
  // team-internal is at 90 % of its $0.05 hourly budget: refused, and its bar turns red.
  { tenant: "team-internal", model: "gpt-4o", route: "/v1/responses", input: 2_000, output: 1_000 },
  // Worst case 64,000 output tokens, more than team-chat's whole hourly budget: refused alone.
  {
    tenant: "team-chat",
    model: "claude-sonnet-4.5",
    route: "/v1/messages",
    input: 2_000,
    output: 64_000,
  },
  { tenant: "team-search", model: "gpt-4o-mini", input: 2_100, output: 280 },
];

async function main() {
  const dir = await Deno.makeTempDir({ prefix: "live-screenshot-" });
  const tenantsFile = `${dir}/tenants.json`;
  await Deno.writeTextFile(tenantsFile, JSON.stringify(DEMO_TENANTS));
  const server = await startLiveServer({
    env: {
      TENANTS_FILE: tenantsFile,
      LEDGER_URL: `sqlite:${dir}/ledger.sqlite`,
      JAEGER_UI_URL: "http://localhost:16686",
    },
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
