import assert from "node:assert/strict";
import {
  buildTenantDirectory,
  embeddedTenantDirectory,
  hashApiKey,
  TenantsError,
} from "../../src/tenants/tenants.ts";

Deno.test("the embedded tenants carry the reference tutorial's hourly thresholds", () => {
  const dir = embeddedTenantDirectory();
  const thresholds = Object.fromEntries(dir.tenants.map((t) => [t.id, t.hourlyAlertThresholdUsd]));
  assert.deepEqual(thresholds, {
    "team-search": 50,
    "team-chat": 100,
    "team-internal": 10,
    default: 25,
  });
  assert.equal(dir.keysConfigured, false);
});

Deno.test("an unknown tenant id is billed as other with the default tenant's threshold", () => {
  const dir = embeddedTenantDirectory();
  const other = dir.byRequestedId("made-up-" + crypto.randomUUID());
  assert.equal(other.id, "other");
  assert.equal(other.hourlyAlertThresholdUsd, 25);
  assert.equal(dir.byRequestedId(undefined).id, "other");
  assert.equal(dir.byRequestedId("team-chat").id, "team-chat");
});

Deno.test("API keys authenticate by their SHA-256 and a wrong key finds nothing", () => {
  const dir = buildTenantDirectory({
    tenants: [
      { id: "default", hourly_alert_threshold_usd: 1 },
      {
        id: "acme",
        hourly_alert_threshold_usd: 5,
        api_keys: [{ name: "ci", sha256: hashApiKey("sk-acme-1") }],
      },
    ],
  });
  assert.equal(dir.keysConfigured, true);
  assert.equal(dir.authenticate("sk-acme-1")?.tenant.id, "acme");
  assert.equal(dir.authenticate("sk-acme-2"), null);
  assert.equal(dir.authenticate(""), null);
});

Deno.test("a bad tenants file names the field", () => {
  const cases: [unknown, RegExp][] = [
    [{ tenants: [{ id: "x", hourly_alert_threshold_usd: 1 }] }, /default/],
    [
      { tenants: [{ id: "default", hourly_alert_threshold_usd: -1 }] },
      /hourly_alert_threshold_usd/,
    ],
    [{
      tenants: [{ id: "default", hourly_alert_threshold_usd: 1 }, {
        id: "other",
        hourly_alert_threshold_usd: 1,
      }],
    }, /reserved/],
    [{
      tenants: [{
        id: "default",
        hourly_alert_threshold_usd: 1,
        api_keys: [{ name: "k", sha256: "plain" }],
      }],
    }, /sha256/],
    [
      { tenants: [{ id: "default", hourly_alert_threshold_usd: 1, budgets: { week: 1 } }] },
      /budgets/,
    ],
  ];
  for (const [raw, pattern] of cases) {
    assert.throws(() => buildTenantDirectory(raw), (e: Error) => {
      assert.ok(e instanceof TenantsError);
      assert.match(e.message, pattern);
      return true;
    });
  }
});
