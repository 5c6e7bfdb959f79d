/**
 * The live sink: each request the ledger records becomes a live-page event, published to every
 * open page (and, with the ledger off, added to the page's in-memory store first). It runs after
 * the ledger sink's commit (see `inOrder`), so a page that reconnects and reads a snapshot finds
 * every request it was sent. Requests the ledger does not record (malformed, unauthorized,
 * unknown model, overloaded) are not on the page either: its totals and a snapshot's must agree.
 * With no page open (and none lately) the event is built only for the in-memory store, if any.
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
      const build = () =>
        liveEventFromRecord(record, { time: record.finishedAt, traceId: traceIdOf(record.span) });
      if (memory === undefined) {
        // Built only while a page is open or one closed lately (see the hub).
        hub.publishIfWatched(build);
        return;
      }
      const event = build();
      memory.add(event);
      hub.publishIfWatched(() => event);
    },
  };
}
