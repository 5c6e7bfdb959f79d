/**
 * The spend routes on the real server with real API keys: a tenant key reads only its own
 * tenant (naming another is a 403, never an empty answer), an admin key reads every tenant, no
 * key is a 401, and paging through the records returns every row exactly once, even while new
 * requests arrive.
 */
import assert from "node:assert/strict";
import { hashApiKey } from "../../src/tenants/tenants.ts";
import { startServer } from "../helpers/server.ts";

const KEYS = { "team-a": "sk-e2e-team-a", "team-b": "sk-e2e-team-b", admin: "sk-e2e-admin" };

const TENANTS = {
  tenants: [
    {
      id: "team-a",
      hourly_alert_threshold_usd: 50,
      api_keys: [{ name: "a-ci", sha256: hashApiKey(KEYS["team-a"]) }],
    },
    {
      id: "team-b",
      hourly_alert_threshold_usd: 50,
      api_keys: [{ name: "b-ci", sha256: hashApiKey(KEYS["team-b"]) }],
    },
    {
      id: "default",
      hourly_alert_threshold_usd: 50,
      api_keys: [{ name: "ops", sha256: hashApiKey(KEYS.admin), admin: true }],
    },
  ],
};

type Who = keyof typeof KEYS;
const auth = (who: Who) => ({ authorization: `Bearer ${KEYS[who]}` });

async function chat(url: string, who: Who, i: number): Promise<string> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...auth(who) },
    body: JSON.stringify({
      model: i % 2 ? "gpt-4o" : "gpt-4o-mini",
      messages: [{ role: "user", content: `question ${i}` }],
      max_tokens: 16,
    }),
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  return res.headers.get("x-request-id")!;
}

/** Every record a key can page through, `limit` at a time; `between` runs after the first page. */
async function pageAll(
  url: string,
  who: Who,
  limit: number,
  between: () => Promise<void> = () => Promise.resolve(),
): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const res: Response = await fetch(`${url}/v1/spend/requests?${query}`, {
      headers: auth(who),
    });
    assert.equal(res.status, 200);
    const page: { data: { request_id: string }[]; has_more: boolean; next_cursor: string | null } =
      await res.json();
    assert.ok(page.data.length <= limit);
    ids.push(...page.data.map((r) => r.request_id));
    cursor = page.next_cursor;
    assert.equal(page.has_more, cursor !== null);
    if (++pages === 1) await between();
  } while (cursor !== null);
  return ids;
}

Deno.test("spend with real keys: a tenant key sees its own tenant only, another tenant is 403, paging returns every row once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spend-access-" });
  const tenantsFile = `${dir}/tenants.json`;
  await Deno.writeTextFile(tenantsFile, JSON.stringify(TENANTS));
  const server = await startServer({ TENANTS_FILE: tenantsFile });
  try {
    const sent: Record<"team-a" | "team-b", string[]> = { "team-a": [], "team-b": [] };
    for (let i = 0; i < 23; i++) {
      const who = i % 3 ? "team-a" : "team-b";
      sent[who].push(await chat(server.url, who, i));
    }

    // Another tenant's spend, records, one record or export: 403, whichever way it is named.
    const bRecord = sent["team-b"][0];
    for (
      const path of [
        "/v1/spend?tenant=team-b",
        "/v1/spend/requests?tenant=team-b",
        `/v1/spend/requests/${bRecord}`,
        "/v1/spend/export?format=focus&tenant=team-b",
        "/live/summary?tenant=team-b",
      ]
    ) {
      const res = await fetch(`${server.url}${path}`, { headers: auth("team-a") });
      assert.equal(res.status, 403, path);
      assert.equal((await res.json()).error.type, "forbidden", path);
    }
    const anonymous = await fetch(`${server.url}/v1/spend`);
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();

    const own = await (await fetch(`${server.url}/v1/spend?group_by=tenant,key`, {
      headers: auth("team-a"),
    })).json();
    assert.deepEqual(own.groups.map((g: { tenant: string; key: string }) => [g.tenant, g.key]), [
      ["team-a", "a-ci"],
    ]);
    assert.equal(own.total.requests, sent["team-a"].length);

    // Pages of 4: new requests arriving meanwhile are newer than the first page, never repeated.
    const admin = await pageAll(server.url, "admin", 4, async () => {
      for (let i = 0; i < 3; i++) await chat(server.url, "team-b", 100 + i);
    });
    const all = [...sent["team-a"], ...sent["team-b"]];
    assert.equal(admin.length, all.length);
    assert.deepEqual([...admin].sort(), [...all].sort());
    const onlyA = await pageAll(server.url, "team-a", 5);
    assert.deepEqual([...onlyA].sort(), [...sent["team-a"]].sort());
  } finally {
    assert.equal(await server.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});
