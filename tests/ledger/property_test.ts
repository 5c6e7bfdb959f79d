import assert from "node:assert/strict";
import fc from "fast-check";
import { openSqliteLedger } from "../../src/ledger/ledger.ts";
import { csvExport, focusExport } from "../../src/ledger/export.ts";
import { addTotals, ZERO_TOTALS } from "../../src/ledger/queries.ts";
import { GROUP_KEYS } from "../../src/ledger/query.ts";
import { isRefused } from "../../src/ledger/row.ts";
import { parseUsdPico } from "../../src/pricing/money.ts";
import { csvObjects, parseCsv } from "../helpers/csv.ts";
import { collect, rowArbitrary } from "./fixtures.ts";

const NOVEMBER = { fromMs: Date.UTC(2026, 10, 1), toMs: Date.UTC(2026, 11, 1) };

const rowsArbitrary = fc.uniqueArray(rowArbitrary, {
  minLength: 0,
  maxLength: 80,
  selector: (r) => r.requestId,
});

async function joined(chunks: AsyncIterable<string>): Promise<string> {
  return (await collect(chunks)).join("");
}

Deno.test("property: any set of rows → report totals are the sums of the rows, and groups add up to them", async () => {
  await fc.assert(
    fc.asyncProperty(
      rowsArbitrary,
      fc.subarray([...GROUP_KEYS]),
      async (rows, groupBy) => {
        const ledger = openSqliteLedger(":memory:", "normal");
        try {
          await Promise.all(rows.map((r) => ledger.append(r)));
          const report = await ledger.report({ ...NOVEMBER, groupBy });
          const billed = rows.filter((r) => !isRefused(r.status));
          assert.equal(report.total.costPico, rows.reduce((s, r) => s + (r.costPico ?? 0n), 0n));
          assert.equal(report.total.requests, BigInt(billed.length));
          assert.equal(report.total.refusedRequests, BigInt(rows.length - billed.length));
          assert.equal(
            report.total.unpricedRequests,
            BigInt(rows.filter((r) => r.unpriced).length),
          );
          assert.equal(
            report.total.inputTokens,
            rows.reduce((s, r) => s + BigInt(r.inputTokens), 0n),
          );
          assert.equal(
            report.total.cacheWriteTokens,
            rows.reduce((s, r) => s + BigInt(r.cacheWrite5mTokens + r.cacheWrite1hTokens), 0n),
          );
          if (groupBy.length > 0) {
            assert.deepEqual(
              report.groups.map((g) => g.totals).reduce(addTotals, ZERO_TOTALS),
              report.total,
            );
          }
        } finally {
          await ledger.close();
        }
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("property: paging returns every row once; CSV has one line per row; FOCUS BilledCost sums to the total", async () => {
  await fc.assert(
    fc.asyncProperty(rowsArbitrary, fc.integer({ min: 1, max: 17 }), async (rows, limit) => {
      const ledger = openSqliteLedger(":memory:", "normal");
      try {
        await Promise.all(rows.map((r) => ledger.append(r)));
        const ids: string[] = [];
        let after = undefined;
        do {
          const page = await ledger.page({ ...NOVEMBER, limit, after });
          assert.ok(page.records.length <= limit);
          ids.push(...page.records.map((r) => r.requestId));
          after = page.next ?? undefined;
        } while (after);
        assert.deepEqual([...ids].sort(), rows.map((r) => r.requestId).sort());

        const csv = parseCsv(await joined(csvExport(ledger.scan(NOVEMBER))));
        assert.equal(csv.length, rows.length + 1);

        const total = (await ledger.report({ ...NOVEMBER, groupBy: [] })).total.costPico;
        const focus = csvObjects(
          await joined(
            focusExport(ledger.scan(NOVEMBER), { billingAccountId: "a", billingAccountName: "a" }),
          ),
        );
        assert.equal(focus.reduce((s, r) => s + parseUsdPico(r.BilledCost)!, 0n), total);
      } finally {
        await ledger.close();
      }
    }),
    { numRuns: 60 },
  );
});
