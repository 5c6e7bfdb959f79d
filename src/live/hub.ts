/**
 * The live hub: finished requests fan out to every open page, in order. Each event gets an id,
 * `<boot>.<seq>`, so a page that reconnects to the same process can say what it saw last and get
 * exactly the events it missed from a bounded history. Each subscriber has a bounded queue: a
 * page that reads too slowly is disconnected (it reconnects and catches up) rather than let its
 * backlog grow the server's memory.
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
}

/** Builds a hub. */
export function createLiveHub(options: LiveHubOptions = {}): LiveHub {
  const historySize = options.historySize ?? 1024;
  const maxQueue = options.maxQueue ?? 1024;
  const bootId = crypto.randomUUID().slice(0, 8);
  // A ring: event `n` sits at `n % historySize`, so publishing never moves the others.
  const history: SequencedEvent[] = new Array(historySize);
  const subscribers = new Set<Subscriber>();
  let seq = 0;
  let closed = false;

  const idOf = (n: number) => `${bootId}.${n}`;

  /** The held events after `lastEventId`, or null when that id is not this process's or too old. */
  function replayAfter(lastEventId: string | undefined): SequencedEvent[] | null {
    if (lastEventId === undefined) return null;
    const match = /^([0-9a-f]{8})\.(\d{1,15})$/.exec(lastEventId);
    if (!match || match[1] !== bootId) return null;
    const last = Number(match[2]);
    if (last > seq) return null;
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
    publish(event) {
      const sequenced: SequencedEvent = { id: idOf(++seq), seq, event };
      history[seq % historySize] = sequenced;
      for (const subscriber of subscribers) subscriber.offer(sequenced);
      return sequenced;
    },
    subscribe(subscribeOptions = {}) {
      const filter = subscribeOptions.filter ?? (() => true);
      const replay = replayAfter(subscribeOptions.lastEventId);
      const subscriber: Subscriber = new Subscriber(
        filter,
        maxQueue,
        replay !== null,
        idOf(seq),
        () => subscribers.delete(subscriber),
      );
      for (const e of replay ?? []) subscriber.offer(e);
      subscribers.add(subscriber);
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
