/**
 * The live page in a real browser (headless Chromium through playwright-core) on the real server
 * with its spend ledger: rows and totals follow real requests without a reload, the page
 * reconnects after the server is killed and restarted on the same ledger and fills the gap,
 * nothing is fetched from outside the server, the console stays clean, no prompt text reaches the
 * DOM, and a tenant key shows only its tenant. Requests go through scripts/live/harness.ts.
 */
import assert from "node:assert/strict";
import type { ConsoleMessage, Page, Request } from "playwright-core";
import { hashApiKey } from "../../src/tenants/tenants.ts";
import { launchChromium } from "../../scripts/live/browser.ts";
import { eventually } from "../helpers/poll.ts";
import {
  type LiveServer,
  type RequestSpec,
  type SentRequest,
  startLiveServer,
} from "../../scripts/live/harness.ts";

const PROMPT_MARKER = "PROMPT-TEXT-MUST-NOT-SHOW-7f3a";
const CHAT_KEY = "chat-key-for-the-live-page-test";
const SEARCH_KEY = "search-key-for-the-live-page-test";
const ADMIN_KEY = "admin-key-for-the-live-page-test";

/** Small thresholds and budgets so a few requests move the bars. */
function tenantsFile(withKeys: boolean) {
  const keys = (name: string, key: string, admin = false) =>
    withKeys ? { api_keys: [{ name, sha256: hashApiKey(key), admin }] } : {};
  return {
    tenants: [
      {
        id: "team-chat",
        hourly_alert_threshold_usd: 0.01,
        budgets: { hour: "0.02" },
        ...keys("chat", CHAT_KEY),
      },
      { id: "team-search", hourly_alert_threshold_usd: 5, ...keys("search", SEARCH_KEY) },
      { id: "default", hourly_alert_threshold_usd: 5, ...keys("ops", ADMIN_KEY, true) },
    ],
  };
}

let counter = 0;
/** A request of `tenant`; `prompt` is what a client would send, and must never be shown. */
function request(
  tenant: string,
  overrides: Partial<RequestSpec> = {},
): RequestSpec & { prompt: string } {
  counter++;
  return {
    requestId: `live-${Date.now().toString(36)}-${counter}`,
    tenant,
    model: "gpt-4o-mini",
    input: 1_200 + counter,
    output: 300,
    traceId: crypto.randomUUID().replaceAll("-", ""),
    prompt: `${PROMPT_MARKER} question ${counter}`,
    ...overrides,
  };
}

const sumPico = (sent: SentRequest[]) => sent.reduce((s, r) => s + BigInt(r.costPico ?? "0"), 0n);

/** The exact amount the page shows in a spend card. */
async function cardPico(page: Page, window: string): Promise<bigint> {
  const pico = await page.locator(`.card[data-window="${window}"] [data-field="cost"]`)
    .getAttribute("data-pico");
  return BigInt(pico!);
}

async function waitForCardPico(page: Page, window: string, expected: bigint) {
  // Polled from here: the page's CSP (rightly) refuses the string evaluation waitForFunction uses.
  await eventually(
    `the ${window} total to be ${expected} pico`,
    Date.now() + 10_000,
    async () => await cardPico(page, window) === expected ? true : undefined,
    20,
  );
}

const row = (page: Page, requestId: string) => page.locator(`tr[data-request-id="${requestId}"]`);

async function waitForStatus(page: Page, state: string, timeout = 20_000) {
  await page.locator(`#status[data-state="${state}"]`).waitFor({ timeout });
}

/** What the page did: every request it made, and its console errors. */
function watch(page: Page, origin: string) {
  const requests: Request[] = [];
  const errors: string[] = [];
  let restarting = false;
  page.on("request", (r) => requests.push(r));
  page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
  page.on("console", (message: ConsoleMessage) => {
    if (message.type() !== "error") return;
    const at = message.location().url;
    // While the server is down, the page's own reconnect attempts fail; nothing else may.
    if (restarting && at.startsWith(`${origin}/live/events`)) return;
    errors.push(`${message.text()} (${at})`);
  });
  return {
    requests,
    errors,
    set restarting(value: boolean) {
      restarting = value;
    },
  };
}

async function withServer(
  withKeys: boolean,
  run: (
    ctx: { server: () => LiveServer; restart: () => Promise<void>; pause: () => Promise<void> },
  ) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "live-page-test-" });
  const env = {
    TENANTS_FILE: `${dir}/tenants.json`,
    // The server's own ledger; the restarted server opens the same one.
    LEDGER_URL: `sqlite:${dir}/ledger.sqlite`,
    JAEGER_UI_URL: "http://jaeger.invalid:16686",
  };
  const apiKeys = withKeys ? { "team-chat": CHAT_KEY, "team-search": SEARCH_KEY } : undefined;
  await Deno.writeTextFile(env.TENANTS_FILE, JSON.stringify(tenantsFile(withKeys)));
  let server = await startLiveServer({ env, apiKeys });
  try {
    await run({
      server: () => server,
      pause: () => server.stop(),
      restart: async () => {
        server = await startLiveServer({ env, apiKeys, port: server.port });
      },
    });
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name:
    "the page shows each new request and the new totals live, and fills the gap after a server restart",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withServer(false, async ({ server, pause, restart }) => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const origin = server().url;
      const seen = watch(page, origin);
      const sent: SentRequest[] = [];
      sent.push(
        ...await server().send([
          request("team-chat"),
          request("team-search", { model: "claude-3.5-sonnet" }),
        ]),
      );

      await page.goto(origin);
      await waitForStatus(page, "live");
      for (const r of sent) await row(page, r.requestId).waitFor();
      assert.equal(await cardPico(page, "hour"), sumPico(sent));
      await page.evaluate(() => (globalThis as unknown as { marker: number }).marker = 1);

      // Page weight: every response of the load (document, script, style sheet), plus the icon
      // a headed browser asks for by itself (headless Chromium does not).
      const loaded = seen.requests.filter((r) => !r.url().includes("/live/events"));
      let weight = 0;
      for (const r of loaded) {
        const sizes = await r.sizes();
        weight += sizes.responseBodySize + sizes.responseHeadersSize;
      }
      const icon = await fetch(`${origin}/favicon.ico`);
      assert.equal(icon.status, 200);
      weight += (await icon.arrayBuffer()).byteLength;

      // Live: each new request appears as a row, and the totals move, without a reload.
      const latencies: number[] = [];
      for (let i = 0; i < 10; i++) {
        const [one] = await server().send([request(i % 2 ? "team-search" : "team-chat")]);
        const answered = performance.now();
        await row(page, one.requestId).waitFor({ timeout: 10_000 });
        latencies.push(performance.now() - answered);
        sent.push(one);
      }
      await waitForCardPico(page, "hour", sumPico(sent));
      await waitForCardPico(page, "month", sumPico(sent));
      const first = page.locator("#request-rows tr").first();
      assert.equal(await first.getAttribute("data-request-id"), sent.at(-1)!.requestId);
      const link = await first.locator("a").getAttribute("href");
      assert.match(link!, /^http:\/\/jaeger\.invalid:16686\/trace\/[0-9a-f]{32}$/);

      // team-chat crosses its $0.01 alert threshold (amber), then reaches its $0.02 hourly budget
      // (red): the budget refuses the next request.
      const chatCell = page.locator('tr[data-tenant="team-chat"] td[data-window="hour"]');
      const heavy = () => request("team-chat", { model: "gpt-4o", input: 2_000, output: 200 });
      while ((await chatCell.getAttribute("data-state")) === "ok") {
        sent.push(...await server().send([heavy()]));
        await waitForCardPico(page, "hour", sumPico(sent));
      }
      assert.equal(await chatCell.getAttribute("data-state"), "warn");
      while ((await chatCell.getAttribute("data-state")) === "warn") {
        sent.push(...await server().send([heavy()]));
        await waitForCardPico(page, "hour", sumPico(sent));
      }
      assert.equal(await chatCell.getAttribute("data-state"), "over");
      assert.equal(sent.at(-1)!.status, 429);

      // Restart: the server dies, comes back on the same port, and serves requests before the
      // page gets through again (its reconnects are held back until then).
      await page.route("**/live/events", (route) => route.abort("connectionrefused"));
      seen.restarting = true;
      await pause();
      await waitForStatus(page, "reconnecting");
      await restart();
      const gap = await server().send([
        request("team-search"),
        request("team-chat", { model: "gpt-4o" }),
      ]);
      sent.push(...gap);
      await page.unroute("**/live/events");
      await waitForStatus(page, "live");
      seen.restarting = false;
      for (const r of gap) await row(page, r.requestId).waitFor({ timeout: 10_000 });
      await waitForCardPico(page, "hour", sumPico(sent));
      const [after] = await server().send([request("team-search")]);
      sent.push(after);
      await row(page, after.requestId).waitFor({ timeout: 10_000 });
      await waitForCardPico(page, "day", sumPico(sent));
      assert.equal(await page.locator("#request-rows tr").count(), sent.length);
      assert.equal(
        await page.evaluate(() => (globalThis as unknown as { marker: number }).marker),
        1,
      );
      assert.equal(await page.evaluate(() => performance.getEntriesByType("navigation").length), 1);

      // Nothing from elsewhere, nothing said in the console, no prompt text anywhere on the page.
      const outside = seen.requests.map((r) => r.url()).filter((u) => !u.startsWith(`${origin}/`));
      assert.deepEqual(outside, []);
      assert.deepEqual(seen.errors, []);
      assert.equal((await page.content()).includes(PROMPT_MARKER), false);

      // A phone: the page itself never scrolls sideways (wide tables scroll in their own box).
      await page.setViewportSize({ width: 390, height: 844 });
      const overflow = await page.evaluate<number>(
        "document.documentElement.scrollWidth - innerWidth",
      );
      assert.ok(overflow <= 0, `page is ${overflow}px wider than a phone`);
      await page.emulateMedia({ colorScheme: "dark" });
      const dark = await page.evaluate<string>("getComputedStyle(document.body).backgroundColor");
      await page.emulateMedia({ colorScheme: "light" });
      const light = await page.evaluate<string>("getComputedStyle(document.body).backgroundColor");
      assert.notEqual(dark, light);

      latencies.sort((a, b) => a - b);
      console.log(
        `live page: load weight ${weight} bytes in ${loaded.length} responses; response → row visible ` +
          `median ${latencies[5].toFixed(1)} ms, max ${latencies[9].toFixed(1)} ms`,
      );
    } finally {
      await browser.close();
    }
  });
});

Deno.test({
  name: "with API keys the page asks for one; a tenant key shows only its tenant, an admin key all",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await withServer(true, async ({ server }) => {
    const browser = await launchChromium();
    try {
      const before = await server().send([request("team-chat"), request("team-search")]);
      const page = await browser.newPage();
      const origin = server().url;
      const seen = watch(page, origin);
      await page.goto(origin);
      await waitForStatus(page, "key");
      assert.equal(await page.locator("#key-form").isVisible(), true);
      assert.equal(await page.locator("#request-rows tr").count(), 0);
      assert.equal(seen.requests.some((r) => r.url().includes("/live/events")), false);

      // Keyboard only: the key field has the focus; type and press Enter.
      await page.keyboard.type(CHAT_KEY);
      await page.keyboard.press("Enter");
      await waitForStatus(page, "live");
      assert.equal(await page.locator("#scope").textContent(), "Tenant team-chat");
      await row(page, before[0].requestId).waitFor();
      assert.equal(await row(page, before[1].requestId).count(), 0);
      assert.deepEqual(
        await page.locator("#tenant-rows tr").evaluateAll((rows) =>
          rows.map((r) => r.getAttribute("data-tenant"))
        ),
        ["team-chat"],
      );
      const [search, chat] = await server().send([request("team-search"), request("team-chat")]);
      await row(page, chat.requestId).waitFor();
      assert.equal(await row(page, search.requestId).count(), 0);
      await waitForCardPico(page, "hour", sumPico([before[0], chat]));

      const events = seen.requests.filter((r) => r.url().includes("/live/events"));
      assert.ok(events.length >= 1);
      assert.equal(await events[0].headerValue("authorization"), `Bearer ${CHAT_KEY}`);
      for (const r of seen.requests) assert.equal(r.url().includes(CHAT_KEY), false);
      assert.equal((await page.content()).includes(CHAT_KEY), false);
      assert.deepEqual(seen.errors, []);

      const admin = await browser.newPage();
      await admin.goto(origin);
      await admin.locator("#key").fill(ADMIN_KEY);
      await admin.locator("#key-form button").click();
      await waitForStatus(admin, "live");
      assert.equal(await admin.locator("#scope").textContent(), "All tenants");
      for (const r of [...before, search, chat]) await row(admin, r.requestId).waitFor();
      await waitForCardPico(admin, "hour", sumPico([...before, search, chat]));
    } finally {
      await browser.close();
    }
  });
});
