import assert from "node:assert/strict";
import { Hono } from "hono";
import { isLosslessNumber, parse } from "lossless-json";
import { registerSpendRoutes, type SpendAccess } from "../../src/routes/spend.ts";
import type { Ledger } from "../../src/ledger/ledger.ts";
import { parseUsdPico } from "../../src/pricing/money.ts";
import { csvObjects } from "../helpers/csv.ts";
import { makeRow, tempLedger } from "../ledger/fixtures.ts";

const NOW = Date.UTC(2026, 10, 25, 15);
const KEYS: Record<string, SpendAccess> = {
  admin: { admin: true },
  "key-a": { admin: false, tenant: "team-a" },
  "key-b": { admin: false, tenant: "team-b" },
};

/** An app whose authorizer knows three keys (as the tenants file would) and no anonymous access. */
function spendApp(ledger: Ledger | null, demo = false) {
  const app = new Hono();
  registerSpendRoutes(app, {
    ledger,
    now: () => NOW,
    authorize: (headers) =>
      demo
        ? { admin: true }
        : KEYS[headers.get("authorization")?.replace(/^Bearer /, "") ?? ""] ?? null,
  });
  const get = (path: string, key?: string) =>
    app.request(path, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { app, get };
}

async function withRows(
  body: (
    get: ReturnType<typeof spendApp>["get"],
    rows: ReturnType<typeof makeRow>[],
  ) => Promise<void>,
) {
  const { ledger, cleanup } = await tempLedger();
  try {
    const rows = [
      makeRow({ tenant: "team-a", ts: Date.UTC(2026, 10, 3), outputTokens: 7 }),
      makeRow({ tenant: "team-a", ts: Date.UTC(2026, 10, 4), model: "gpt-4o" }),
      makeRow({ tenant: "team-b", ts: Date.UTC(2026, 10, 5) }),
    ];
    for (const r of rows) await ledger.append(r);
    await body(spendApp(ledger).get, rows);
  } finally {
    await cleanup();
  }
}

async function errorOf(
  response: Response,
): Promise<{ status: number; type: string; message: string }> {
  const body = await response.json();
  return { status: response.status, type: body.error.type, message: body.error.message };
}

Deno.test("GET /v1/spend: the month to date by tenant and model, cost_usd an exact JSON number", async () => {
  await withRows(async (get, rows) => {
    const response = await get("/v1/spend", "admin");
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
    const text = await response.text();
    const body = parse(text) as Record<string, unknown> & {
      total: Record<string, unknown>;
      groups: Record<string, unknown>[];
    };
    assert.equal(body.currency, "USD");
    assert.equal(body.from, "2026-11-01T00:00:00.000Z");
    assert.equal(body.to, "2026-11-25T15:00:00.000Z");
    assert.ok(isLosslessNumber(body.total.cost_usd), "cost_usd is a number token, not a string");
    const usd = (v: unknown) => parseUsdPico(String(v))!;
    assert.equal(usd(body.total.cost_usd), rows.reduce((s, r) => s + r.costPico!, 0n));
    assert.deepEqual(
      body.groups.map((g) => [g.tenant, g.model, Number(g.requests), usd(g.cost_usd)]),
      [
        ["team-a", "gpt-4o", 1, rows[1].costPico],
        ["team-a", "gpt-4o-mini", 1, rows[0].costPico],
        ["team-b", "gpt-4o-mini", 1, rows[2].costPico],
      ],
    );
    assert.deepEqual(Object.keys(body.total), [
      "requests",
      "refused_requests",
      "unpriced_requests",
      "input_tokens",
      "cached_input_tokens",
      "cache_write_tokens",
      "output_tokens",
      "reasoning_tokens",
      "cost_usd",
    ]);
    // The body's text carries the decimal itself (e.g. 0.00019705), never an exponent or a string.
    assert.match(text, /"cost_usd":\d+\.\d+[,}]/);
  });
});

Deno.test("GET /v1/spend: a tenant key sees only its tenant; asking for another is 403, not an empty answer", async () => {
  await withRows(async (get, rows) => {
    const own = await (await get("/v1/spend?group_by=tenant", "key-a")).json();
    assert.deepEqual(own.groups.map((g: { tenant: string }) => g.tenant), ["team-a"]);
    assert.equal(own.total.requests, 2);
    assert.equal((await get("/v1/spend?tenant=team-a", "key-a")).status, 200);
    assert.deepEqual(await errorOf(await get("/v1/spend?tenant=team-b", "key-a")), {
      status: 403,
      type: "forbidden",
      message: 'this key may read tenant "team-a" only',
    });
    const admin = await (await get("/v1/spend?tenant=team-b&group_by=", "admin")).json();
    assert.equal(admin.total.requests, 1);
    assert.equal(parseUsdPico(String(admin.total.cost_usd)), rows[2].costPico);
  });
});

Deno.test("spend routes: no or a wrong key is 401 once keys exist; demo mode is open", async () => {
  await withRows(async (get) => {
    assert.equal((await errorOf(await get("/v1/spend"))).status, 401);
    assert.equal((await get("/v1/spend", "not-a-key")).status, 401);
    assert.equal((await get("/v1/spend/requests", "not-a-key")).status, 401);
  });
  const { ledger, cleanup } = await tempLedger();
  try {
    await ledger.append(makeRow({ ts: Date.UTC(2026, 10, 3), tenant: "other" }));
    const demo = spendApp(ledger, true);
    const body = await (await demo.get("/v1/spend")).json();
    assert.equal(body.total.requests, 1);
  } finally {
    await cleanup();
  }
});

Deno.test("GET /v1/spend/requests: pages newest first with an opaque cursor, scoped to the key's tenant", async () => {
  await withRows(async (get, rows) => {
    const first = await (await get("/v1/spend/requests?limit=2", "admin")).json();
    assert.deepEqual(first.data.map((r: { request_id: string }) => r.request_id), [
      rows[2].requestId,
      rows[1].requestId,
    ]);
    assert.equal(first.has_more, true);
    const second =
      await (await get(`/v1/spend/requests?limit=2&cursor=${first.next_cursor}`, "admin")).json();
    assert.deepEqual(second.data.map((r: { request_id: string }) => r.request_id), [
      rows[0].requestId,
    ]);
    assert.equal(second.has_more, false);
    assert.equal(second.next_cursor, null);

    const own = await (await get("/v1/spend/requests", "key-b")).json();
    assert.deepEqual(own.data.map((r: { tenant: string }) => r.tenant), ["team-b"]);
    assert.equal((await get("/v1/spend/requests?tenant=team-a", "key-b")).status, 403);
  });
});

Deno.test("GET /v1/spend/requests/{id}: one record with its trace id; another tenant's is 403, unknown 404", async () => {
  const { ledger, cleanup } = await tempLedger();
  try {
    const row = makeRow({
      tenant: "team-a",
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      keyName: "key-a",
    });
    await ledger.append(row);
    const { get } = spendApp(ledger);
    const response = await get(`/v1/spend/requests/${row.requestId}`, "key-a");
    assert.equal(response.status, 200);
    const record = parse(await response.text()) as Record<string, unknown>;
    assert.equal(record.request_id, row.requestId);
    assert.equal(record.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert.equal(record.key_name, "key-a");
    assert.equal(parseUsdPico(String(record.cost_usd)), row.costPico);
    assert.equal(record.time, "2026-11-25T14:30:00.000Z");
    assert.ok(!("prompt" in record) && !("completion" in record));
    assert.equal(
      (await errorOf(await get(`/v1/spend/requests/${row.requestId}`, "key-b"))).type,
      "forbidden",
    );
    assert.deepEqual(
      (await errorOf(await get("/v1/spend/requests/nope", "admin"))).type,
      "not_found",
    );
  } finally {
    await cleanup();
  }
});

Deno.test("GET /v1/spend/export: CSV and FOCUS downloads of the range, scoped like the report", async () => {
  await withRows(async (get, rows) => {
    const csv = await get("/v1/spend/export?format=csv&from=2026-11-01&to=2026-12-01", "admin");
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get("content-type") ?? "", /^text\/csv/);
    assert.equal(
      csv.headers.get("content-disposition"),
      'attachment; filename="spend-2026-11-01-2026-12-01.csv"',
    );
    assert.equal(csvObjects(await csv.text()).length, 3);

    const focus = csvObjects(await (await get("/v1/spend/export?format=focus", "key-a")).text());
    assert.deepEqual([...new Set(focus.map((r) => r.SubAccountId))], ["team-a"]);
    assert.equal(
      focus.reduce((s, r) => s + parseUsdPico(r.BilledCost)!, 0n),
      rows[0].costPico! + rows[1].costPico!,
    );
    assert.equal((await get("/v1/spend/export?format=focus&tenant=team-b", "key-a")).status, 403);
  });
});

Deno.test("spend routes: a bad parameter is a 400 invalid_request naming it", async () => {
  await withRows(async (get) => {
    const cases: [string, RegExp][] = [
      ["/v1/spend?from=last-week", /^from: /],
      ["/v1/spend?group_by=colour", /^group_by: /],
      ["/v1/spend?from=2026-11-20&to=2026-11-01", /^from: must not be after to/],
      ["/v1/spend/requests?limit=0", /^limit: /],
      ["/v1/spend/requests?cursor=zzz", /^cursor: /],
      ["/v1/spend/export", /^format: required/],
      ["/v1/spend/export?format=pdf", /^format: /],
      ["/v1/spend?format=csv", /^format: unknown parameter/],
    ];
    for (const [path, pattern] of cases) {
      const error = await errorOf(await get(path, "admin"));
      assert.equal(error.status, 400, path);
      assert.equal(error.type, "invalid_request", path);
      assert.match(error.message, pattern, path);
    }
  });
});

Deno.test("spend routes: with the ledger off every route is a 404 that says so", async () => {
  const { get } = spendApp(null);
  for (
    const path of [
      "/v1/spend",
      "/v1/spend/requests",
      "/v1/spend/requests/x",
      "/v1/spend/export?format=csv",
    ]
  ) {
    const error = await errorOf(await get(path, "admin"));
    assert.equal(error.status, 404, path);
    assert.match(error.message, /LEDGER_URL=none/);
  }
});

Deno.test("spend routes: a store that cannot be read is a 503 to retry, not a stack trace", async () => {
  const down = () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432"));
  const failing = {
    report: down,
    page: down,
    record: down,
    // deno-lint-ignore require-yield
    async *scan() {
      await down();
    },
  } as unknown as Ledger;
  const { get } = spendApp(failing);
  for (
    const path of [
      "/v1/spend",
      "/v1/spend/requests",
      "/v1/spend/requests/x",
      "/v1/spend/export?format=focus",
    ]
  ) {
    const response = await get(path, "admin");
    assert.equal(response.status, 503, path);
    assert.equal(response.headers.get("retry-after"), "1");
    const error = await errorOf(response);
    assert.equal(error.type, "overloaded");
    assert.doesNotMatch(error.message, /ECONNREFUSED/);
  }
});
