/**
 * The live hub: finished requests fan out to every open page, in order. Each event gets an id,
 * `<boot>.<seq>`, so a page that reconnects to the same process can say what it saw last and get
 * exactly the events it missed from a bounded history. Each subscriber has a bounded queue: a
 * page that reads too slowly is disconnected (it reconnects and catches up) rather than let its
 * backlog grow the server's memory.
 *
 * History is kept only while a page may come back for it: while one is open, and for
 * `keepHistoryMs` after the last one closed. Outside that, {@link LiveHub.publishIfWatched} does
 * not even build the event: on a busy server with no page open, the 1,024 held events were most
 * of what outlived V8's young-generation collections (at 1,000 requests/s they are replaced about
 * once a second, so each was copied, promoted, and died in the old generation). Measured on
 * `/v1/inference` at 1,000 requests/s, one pinned CPU, the SQLite ledger on: 236-241 KB surviving
 * a scavenge and 2.3-2.6 ms pauses with the history always kept, 21-27 KB and 0.7-0.8 ms without.
 * A page that reconnects after the window, when requests finished meanwhile, gets a snapshot, as
 * it does when its events have left the history.
 */
import type { LiveEvent } from "./event.ts";

/** An event with its place in this process's stream. */
export interface SequencedEvent {
  /** `<boot>.<seq>`: the SSE event id. */
  readonly id: string;
  readonly seq: number;
  readonly event: LiveEvent;
}

/** Options of {@link LiveHub.subscribe}. */
export interface SubscribeOptions {
  /** Only events this accepts are queued (e.g. one tenant's). */
  readonly filter?: (event: LiveEvent) => boolean;
  /** The id of the last event the client saw: the events after it are replayed when still held. */
  readonly lastEventId?: string;
}

/** One subscriber's ordered view of the stream. */
export interface LiveSubscription {
  /** True when `lastEventId` was found and every event after it is queued: no snapshot needed. */
  readonly resumed: boolean;
  /** The id of the newest event published before this subscription began. */
  readonly startId: string;
  /** The next event, or null once the subscription is closed (by the client or by overflow). */
  next(): Promise<SequencedEvent | null>;
  /** True when the queue overflowed and the subscription was closed for it. */
  readonly overflowed: boolean;
  close(): void;
}

/** The fan-out of live events. */
export interface LiveHub {
  /** This process's random stream id, the first part of every event id. */
  readonly bootId: string;
  /** Gives `event` the next sequence number and queues it for every matching subscriber. */
  publish(event: LiveEvent): SequencedEvent;
  /**
   * As {@link publish} with the event `make` builds, when a page is open or one closed less than
   * `keepHistoryMs` ago; otherwise only takes the event's sequence number (nothing is built or
   * held, and a page that last saw an earlier event gets a snapshot). Undefined when not built.
   */
  publishIfWatched(make: () => LiveEvent): SequencedEvent | undefined;
  subscribe(options?: SubscribeOptions): LiveSubscription;
  /** Open subscriptions (for tests and diagnostics). */
  readonly subscriberCount: number;
  /**
   * Ends every subscription, and any made later, so that open pages' streams end and a server
   * shutting down is not held open by them (the pages reconnect to the next process).
   */
  close(): void;
}

/** Limits of a hub. */
export interface LiveHubOptions {
  /** Events kept for replay to a reconnecting client (default 1024). */
  readonly historySize?: number;
  /** Most events queued for one subscriber before it is disconnected (default 1024). */
  readonly maxQueue?: number;
  /**
   * How long history is still kept after the last page closed, for it to reconnect and resume
   * (default {@link KEEP_HISTORY_MS}).
   */
  readonly keepHistoryMs?: number;
  /** A monotonic clock in milliseconds (tests); `performance.now` by default. */
  readonly now?: () => number;
}

/**
 * Five minutes: far beyond a browser's reconnect (`EventSource` retries within seconds), and
 * covering a laptop lid closed for a moment. At a thousand requests a second the history holds
 * about a second anyway; this matters only on quiet servers, where holding it costs nothing.
 */
export const KEEP_HISTORY_MS = 5 * 60_000;

/** Builds a hub. */
export function createLiveHub(options: LiveHubOptions = {}): LiveHub {
  const historySize = options.historySize ?? 1024;
  const maxQueue = options.maxQueue ?? 1024;
  const keepHistoryMs = options.keepHistoryMs ?? KEEP_HISTORY_MS;
  // Monotonic: a step of the wall clock neither ends the window early nor stretches it.
  const now = options.now ?? (() => performance.now());
  const bootId = crypto.randomUUID().slice(0, 8);
  // A ring: event `n` sits at `n % historySize`, so publishing never moves the others.
  let history: SequencedEvent[] = new Array(historySize);
  const subscribers = new Set<Subscriber>();
  let seq = 0;
  let closed = false;
  /** The oldest event from which every later one is held (events not built leave a gap). */
  let heldFrom = 1;
  /** Until when history is kept with no page open; -Infinity until a page has been open. */
  let keepUntil = -Infinity;
  /** Whether `history` holds any event (released once events stop being built). */
  let holding = false;

  const idOf = (n: number) => `${bootId}.${n}`;

  function publish(event: LiveEvent): SequencedEvent {
    const sequenced: SequencedEvent = { id: idOf(++seq), seq, event };
    history[seq % historySize] = sequenced;
    holding = true;
    for (const subscriber of subscribers) subscriber.offer(sequenced);
    return sequenced;
  }

  /** The held events after `lastEventId`, or null when that id is not this process's or too old. */
  function replayAfter(lastEventId: string | undefined): SequencedEvent[] | null {
    if (lastEventId === undefined) return null;
    const match = /^([0-9a-f]{8})\.(\d{1,15})$/.exec(lastEventId);
    if (!match || match[1] !== bootId) return null;
    const last = Number(match[2]);
    if (last > seq || last + 1 < heldFrom) return null;
    // Everything after `last` must still be held: the ring keeps the newest `historySize`.
    if (seq - last > historySize) return null;
    const missed: SequencedEvent[] = [];
    for (let n = last + 1; n <= seq; n++) missed.push(history[n % historySize]);
    return missed;
  }

  return {
    bootId,
    get subscriberCount() {
      return subscribers.size;
    },
    publish,
    publishIfWatched(make) {
      if (subscribers.size > 0 || now() < keepUntil) return publish(make());
      // Not built: a page that last saw an event before this one cannot be resumed.
      heldFrom = ++seq + 1;
      if (holding) {
        history = new Array(historySize);
        holding = false;
      }
      return undefined;
    },
    subscribe(subscribeOptions = {}) {
      const filter = subscribeOptions.filter ?? (() => true);
      const replay = replayAfter(subscribeOptions.lastEventId);
      const subscriber: Subscriber = new Subscriber(
        filter,
        maxQueue,
        replay !== null,
        idOf(seq),
        () => {
          subscribers.delete(subscriber);
          if (subscribers.size === 0) keepUntil = now() + keepHistoryMs;
        },
      );
      // In the set before the replay: a replay longer than the queue closes the subscriber, and
      // its close must find it there to take it out.
      subscribers.add(subscriber);
      for (const e of replay ?? []) subscriber.offer(e);
      if (closed) subscriber.close();
      return subscriber;
    },
    close() {
      closed = true;
      for (const subscriber of [...subscribers]) subscriber.close();
    },
  };
}

class Subscriber implements LiveSubscription {
  private readonly queue: SequencedEvent[] = [];
  private waiting?: (event: SequencedEvent | null) => void;
  private closed = false;
  overflowed = false;

  constructor(
    private readonly filter: (event: LiveEvent) => boolean,
    private readonly maxQueue: number,
    readonly resumed: boolean,
    readonly startId: string,
    private readonly onClose: () => void,
  ) {}

  offer(sequenced: SequencedEvent): void {
    if (this.closed || !this.filter(sequenced.event)) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve(sequenced);
      return;
    }
    if (this.queue.length >= this.maxQueue) {
      this.overflowed = true;
      this.close();
      return;
    }
    this.queue.push(sequenced);
  }

  next(): Promise<SequencedEvent | null> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => this.waiting = resolve);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Queued events are dropped: a closed subscriber's client catches up when it reconnects.
    this.queue.length = 0;
    this.onClose();
    this.waiting?.(null);
    this.waiting = undefined;
  }
}
