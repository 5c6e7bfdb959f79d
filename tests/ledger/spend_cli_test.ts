import assert from "node:assert/strict";
import { csvObjects } from "../helpers/csv.ts";
import { formatUsd } from "../../src/pricing/money.ts";
import { monthStartMs } from "../../src/ledger/query.ts";
import { makeRow, tempLedger } from "./fixtures.ts";

const SCRIPT = new URL("../../scripts/spend.ts", import.meta.url).pathname;

async function spend(path: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-net",
      "--allow-sys",
      SCRIPT,
      ...args,
    ],
    env: { LEDGER_URL: `sqlite:${path}` },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** The table's data lines (between the rules) and its total line, split into cells. */
function table(stdout: string): { groups: string[][]; total: string[] } {
  const lines = stdout.trimEnd().split("\n");
  const rules = lines.flatMap((l, i) => /^-+(\s+-+)*$/.test(l) ? [i] : []);
  const cells = (l: string) => l.trim().split(/\s{2,}/);
  return {
    groups: rules.length === 2 ? lines.slice(rules[0] + 1, rules[1]).map(cells) : [],
    total: cells(lines.at(-1)!),
  };
}

Deno.test("deno task spend: the month's report as a tenant × model table with exact totals", async () => {
  const { ledger, path, cleanup } = await tempLedger();
  try {
    // The first milliseconds of this UTC month: inside the default range, whenever the test runs.
    const month = monthStartMs(Date.now());
    const rows = [
      makeRow({ ts: month, tenant: "team-a", model: "gpt-4o" }),
      makeRow({ ts: month + 1, tenant: "team-a", model: "gpt-4o" }),
      makeRow({ ts: month + 2, tenant: "team-b", model: "gpt-4o-mini", outputTokens: 1 }),
      makeRow({ ts: month - 1, tenant: "team-b" }),
    ];
    for (const r of rows) await ledger.append(r);
    const result = await spend(path);
    assert.equal(result.code, 0, result.stderr);
    const { groups, total } = table(result.stdout);
    assert.deepEqual(groups.map((g) => [g[0], g[1], g[2], g.at(-1)]), [
      ["team-a", "gpt-4o", "2", formatUsd(rows[0].costPico! + rows[1].costPico!)],
      ["team-b", "gpt-4o-mini", "1", formatUsd(rows[2].costPico!)],
    ]);
    assert.deepEqual([total[0], total[1], total.at(-1)], [
      "total",
      "3",
      formatUsd(rows[0].costPico! + rows[1].costPico! + rows[2].costPico!),
    ]);
  } finally {
    await cleanup();
  }
});

Deno.test("deno task spend --export: writes the CSV or FOCUS export of the range to a file", async () => {
  const { ledger, path, cleanup } = await tempLedger();
  const out = await Deno.makeTempFile({ suffix: ".csv" });
  try {
    const rows = Array.from(
      { length: 40 },
      (_, i) => makeRow({ ts: Date.UTC(2026, 9, 1 + (i % 28)) }),
    );
    await Promise.all(rows.map((r) => ledger.append(r)));
    const csv = await spend(
      path,
      "--from",
      "2026-10-01",
      "--to",
      "2026-11-01",
      "--export",
      "csv",
      "--out",
      out,
    );
    assert.equal(csv.code, 0, csv.stderr);
    assert.equal(csvObjects(await Deno.readTextFile(out)).length, 40);
    const focus = await spend(path, "--to", "2026-11-01", "--export", "focus", "--out", out);
    assert.equal(focus.code, 0, focus.stderr);
    const billed = csvObjects(await Deno.readTextFile(out)).map((r) => r.BilledCost);
    assert.equal(billed.length, 40 * 4); // input, cached input, 5-minute writes and output per row
  } finally {
    await Deno.remove(out);
    await cleanup();
  }
});

Deno.test("deno task spend: a bad flag exits 2 naming it", async () => {
  const { path, cleanup } = await tempLedger();
  try {
    const result = await spend(path, "--group-by", "week");
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^group_by: "week" is not one of/);
  } finally {
    await cleanup();
  }
});
