/**
 * The live sink: each request the ledger records becomes a live-page event, published to every
 * open page (and, with the ledger off, added to the page's in-memory store first). It runs after
 * the ledger sink's commit (see `inOrder`), so a page that reconnects and reads a snapshot finds
 * every request it was sent. Requests the ledger does not record (malformed, unauthorized,
 * unknown model, overloaded) are not on the page either: its totals and a snapshot's must agree.
 */
import { belongsInLedger } from "../../ledger/row.ts";
import { liveEventFromRecord } from "../../live/event.ts";
import type { LiveHub } from "../../live/hub.ts";
import type { MemoryLiveData } from "../../live/data.ts";
import { traceIdOf } from "../../telemetry/tracing.ts";
import type { UsageSink } from "./sink.ts";

/** A sink that publishes each request to `hub`, after adding it to `memory` when there is one. */
export function liveSink(hub: LiveHub, memory?: MemoryLiveData): UsageSink {
  return {
    name: "live",
    record(record) {
      if (!belongsInLedger(record)) return;
      const event = liveEventFromRecord(record, {
        time: record.finishedAt,
        traceId: traceIdOf(record.span),
      });
      memory?.add(event);
      hub.publish(event);
    },
  };
}
