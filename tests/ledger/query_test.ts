import assert from "node:assert/strict";
import {
  decodeCursor,
  encodeCursor,
  LedgerQueryError,
  parseExportQuery,
  parseInstant,
  parseRecordsQuery,
  parseSpendQuery,
} from "../../src/ledger/query.ts";
import { ConfigError, loadConfig } from "../../src/config.ts";

const now = Date.UTC(2026, 10, 25, 14, 30);
const q = (text: string) => new URLSearchParams(text);

Deno.test("parseInstant: RFC 3339 times with any offset and plain dates, in UTC", () => {
  assert.equal(parseInstant("2026-11-25"), Date.UTC(2026, 10, 25));
  assert.equal(parseInstant("2026-11-25T14:00:00Z"), Date.UTC(2026, 10, 25, 14));
  assert.equal(parseInstant("2026-11-25t14:00:00.5z"), Date.UTC(2026, 10, 25, 14, 0, 0, 500));
  assert.equal(parseInstant("2026-11-25T16:00:00+02:00"), Date.UTC(2026, 10, 25, 14));
  assert.equal(
    parseInstant("2026-11-25T14:00:00.123456789Z"),
    Date.UTC(2026, 10, 25, 14, 0, 0, 123),
  );
  for (
    const bad of [
      "2026-02-30",
      "2026-13-01",
      "2026-11-25T24:00:00Z",
      "2026-11-25T14:00",
      "yesterday",
      "1764079200",
      "",
    ]
  ) {
    assert.equal(parseInstant(bad), null, bad);
  }
});

Deno.test("spend query: without bounds, the current UTC month up to now, grouped by tenant and model", () => {
  assert.deepEqual(parseSpendQuery(q(""), now), {
    fromMs: Date.UTC(2026, 10, 1),
    toMs: now,
    tenant: undefined,
    model: undefined,
    groupBy: ["tenant", "model"],
  });
});

Deno.test("spend query: an explicit `to` alone reports the month it ends", () => {
  const query = parseSpendQuery(q("to=2026-11-01"), now);
  assert.equal(query.fromMs, Date.UTC(2026, 9, 1));
  assert.equal(query.toMs, Date.UTC(2026, 10, 1));
});

Deno.test("spend query: group_by takes any of the seven keys in order; empty means totals only", () => {
  assert.deepEqual(parseSpendQuery(q("group_by=day,user,route,key,hour"), now).groupBy, [
    "day",
    "user",
    "route",
    "key",
    "hour",
  ]);
  assert.deepEqual(parseSpendQuery(q("group_by="), now).groupBy, []);
});

Deno.test("spend query: bad parameters are refused naming the parameter", () => {
  const cases: [string, RegExp][] = [
    ["from=yesterday", /^from: must be an RFC 3339/],
    ["to=2026-11-31", /^to: /],
    ["from=2026-11-20&to=2026-11-10", /^from: must not be after to/],
    ["group_by=tenant,week", /^group_by: "week" is not one of/],
    ["group_by=tenant,tenant", /^group_by: repeats/],
    ["tenant=", /^tenant: /],
    ["colour=blue", /^colour: unknown parameter/],
    ["tenant=a&tenant=b", /^tenant: given more than once/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(() => parseSpendQuery(q(text), now), (e: Error) => {
      assert.ok(e instanceof LedgerQueryError, text);
      assert.match(e.message, pattern, text);
      return true;
    });
  }
});

Deno.test("records query: limit 1-1000 (default 100) and a cursor this server returned", () => {
  assert.equal(parseRecordsQuery(q(""), now).limit, 100);
  assert.equal(parseRecordsQuery(q("limit=1000"), now).limit, 1000);
  for (const bad of ["limit=0", "limit=1001", "limit=ten", "limit=-5", "cursor=bogus!"]) {
    assert.throws(() => parseRecordsQuery(q(bad), now), LedgerQueryError, bad);
  }
  const cursor = { ts: now, requestId: "req/ü+1" };
  assert.deepEqual(parseRecordsQuery(q(`cursor=${encodeCursor(cursor)}`), now).after, cursor);
  assert.deepEqual(decodeCursor(encodeCursor(cursor)), cursor);
  assert.throws(() => decodeCursor(btoa(JSON.stringify({ ts: 1 }))), /cursor: /);
});

Deno.test("export query: format is required and is csv or focus", () => {
  assert.equal(parseExportQuery(q("format=focus"), now).format, "focus");
  assert.throws(() => parseExportQuery(q(""), now), /^LedgerQueryError: format: required/);
  assert.throws(() => parseExportQuery(q("format=xlsx"), now), /^LedgerQueryError: format: /);
});

Deno.test("config: LEDGER_URL defaults to ./data/ledger.sqlite; sqlite:, postgres:// and none parse", () => {
  assert.deepEqual(loadConfig({}).ledger, {
    kind: "sqlite",
    path: "./data/ledger.sqlite",
    sync: "normal",
  });
  assert.deepEqual(
    loadConfig({ LEDGER_URL: "sqlite:/var/lib/ict/l.db", LEDGER_SYNC: "full" }).ledger,
    {
      kind: "sqlite",
      path: "/var/lib/ict/l.db",
      sync: "full",
    },
  );
  assert.deepEqual(loadConfig({ LEDGER_URL: "none" }).ledger, { kind: "none" });
  assert.deepEqual(
    loadConfig({ LEDGER_URL: "postgres://u:p@db:5432/ledger", LEDGER_OUTBOX: "/tmp/o.sqlite" })
      .ledger,
    {
      kind: "postgres",
      url: "postgres://u:p@db:5432/ledger",
      outboxPath: "/tmp/o.sqlite",
      sync: "normal",
    },
  );
  assert.equal(loadConfig({}).ledgerRetentionDays, undefined);
  assert.equal(loadConfig({ LEDGER_RETENTION_DAYS: "400" }).ledgerRetentionDays, 400);
});

Deno.test("config: a refused LEDGER_URL is echoed without its password", () => {
  assert.throws(
    () => loadConfig({ LEDGER_URL: "mysql://ledger:s3cret@db:3306/x" }),
    (e: Error) => {
      assert.match(e.message, /\(got "mysql:\/\/\*\*\*@db:3306\/x"\)$/);
      assert.doesNotMatch(e.message, /s3cret/);
      return true;
    },
  );
});

Deno.test("config: a bad ledger setting stops start-up naming it", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ LEDGER_URL: "mysql://db/x" }, /^LEDGER_URL: must be none, sqlite:<path> or postgres/],
    [{ LEDGER_URL: "sqlite:" }, /^LEDGER_URL: /],
    [{ LEDGER_URL: "postgres://" }, /^LEDGER_URL: /],
    [{ LEDGER_RETENTION_DAYS: "0" }, /^LEDGER_RETENTION_DAYS: /],
    [{ LEDGER_SYNC: "sometimes" }, /^LEDGER_SYNC: /],
  ];
  for (const [env, pattern] of cases) {
    assert.throws(() => loadConfig(env), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, pattern);
      return true;
    });
  }
});
