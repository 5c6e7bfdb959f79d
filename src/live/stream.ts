/**
 * The page's event stream (server-sent events over a fetch response). A new connection, or one
 * whose last event this process no longer holds (a restart, a long absence), starts with a
 * `snapshot` of the store; a reconnection to the same process gets exactly the `request` events it
 * missed instead. Snapshots are sent again at every hour boundary and every `snapshotRefreshMs`,
 * between events, so the page's totals follow the store (other replicas' spend included) and roll
 * over with the calendar. Comment lines keep idle connections open through proxies.
 */
import type { LiveData } from "./data.ts";
import { windowBounds } from "./data.ts";
import type { LiveHub, SequencedEvent } from "./hub.ts";
import { eventToWire, type SummaryScope, summaryToWire } from "./wire.ts";

/** What one stream needs. */
export interface LiveStreamOptions {
  readonly hub: LiveHub;
  readonly data: LiveData;
  readonly now: () => Date;
  readonly scope: SummaryScope;
  /** The client's `Last-Event-ID`. */
  readonly lastEventId?: string;
  readonly recentLimit: number;
  readonly heartbeatMs: number;
  readonly snapshotRefreshMs: number;
  /** Told when the store fails; the stream then ends and the client reconnects. */
  readonly onError: (error: unknown) => void;
}

const WAKE = Symbol("wake");

/** The SSE body for one client; cancelling it (the client leaves) ends its subscription. */
export function liveEventStream(options: LiveStreamOptions): ReadableStream<Uint8Array> {
  const { hub, data, now, scope } = options;
  const tenant = scope.tenant;
  const subscription = hub.subscribe({
    filter: tenant === undefined ? undefined : (event) => event.tenant === tenant,
    lastEventId: options.lastEventId,
  });
  const encoder = new TextEncoder();
  let open = true;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let refresh: ReturnType<typeof setTimeout> | undefined;
  let wake: () => void = () => {};

  const stop = () => {
    open = false;
    clearInterval(heartbeat);
    clearTimeout(refresh);
    subscription.close();
    wake();
  };

  return new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => {
        if (open) controller.enqueue(encoder.encode(text));
      };
      const frame = (event: string, id: string, body: unknown) =>
        send(`event: ${event}\nid: ${id}\ndata: ${JSON.stringify(body)}\n\n`);
      let lastId = subscription.startId;
      const snapshot = async () => {
        const at = now();
        const summary = await data.summary({ now: at, tenant, recentLimit: options.recentLimit });
        frame("snapshot", lastId, summaryToWire(summary, at, scope));
      };
      const scheduleRefresh = () => {
        const at = now();
        const untilHour = windowBounds("hour", at).end.getTime() - at.getTime();
        refresh = setTimeout(() => wake(), Math.min(options.snapshotRefreshMs, untilHour + 1));
      };

      heartbeat = setInterval(() => send(": heartbeat\n\n"), options.heartbeatMs);
      (async () => {
        // Opens the response at once, so the client knows it is connected before any event.
        send(": connected\n\n");
        if (!subscription.resumed) await snapshot();
        scheduleRefresh();
        let pending: Promise<SequencedEvent | null> = subscription.next();
        while (open) {
          const woken = new Promise<typeof WAKE>((resolve) => wake = () => resolve(WAKE));
          const next = await Promise.race([pending, woken]);
          if (next === WAKE) {
            if (!open) break;
            // The pending event (if any) stays queued behind the snapshot, keeping the order.
            await snapshot();
            scheduleRefresh();
            continue;
          }
          if (next === null) break;
          lastId = next.id;
          frame("request", next.id, eventToWire(next.event, scope.jaegerUiUrl));
          pending = subscription.next();
        }
      })().catch(options.onError).finally(() => {
        // An overflowed or failed stream ends; the client reconnects and catches up.
        const wasOpen = open;
        stop();
        if (wasOpen) {
          try {
            controller.close();
          } catch { /* already cancelled */ }
        }
      });
    },
    cancel() {
      stop();
    },
  });
}
