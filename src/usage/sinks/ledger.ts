/**
 * The ledger sink: one spend-ledger row per billed, unpriced or refused request, built from the
 * usage record. Its promise resolves once the row is committed, and the call awaits it before the
 * response's last byte, so a response the client received is in the ledger even if the process is
 * killed right after. A row that cannot be written rejects (the call logs it, the ledger counts it
 * in `inference_ledger_write_errors_total`); the response still goes out: a full disk must not
 * take the API down, and the metrics and the alert show the gap.
 */
import { belongsInLedger, ledgerRowOf } from "../../ledger/row.ts";
import type { Ledger } from "../../ledger/ledger.ts";
import type { UsageSink } from "./sink.ts";

/** A sink that appends each ledger-worthy record to `ledger`, priced by `pricingVersion`. */
export function ledgerSink(ledger: Ledger, pricingVersion: string): UsageSink {
  return {
    name: "ledger",
    record(record) {
      if (!belongsInLedger(record)) return;
      return ledger.append(ledgerRowOf(record, {
        finishedAtMs: record.finishedAt.getTime(),
        route: record.route,
        pricingVersion,
        keyName: record.keyName,
        endUser: record.endUser,
      }));
    },
  };
}
