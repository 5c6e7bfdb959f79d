/**
 * A switchable link between the server and an OTLP receiver, on a fixed port of 127.0.0.1, for the
 * collector-outage tests: `up` forwards TCP to the receiver, `down` closes the port (connection
 * refused), `blackhole` accepts connections and never answers.
 */

/** The three states of the collector as the server sees it. */
export type LinkMode = "up" | "down" | "blackhole";

/** A link; `url` is what the server uses as its OTLP endpoint. */
export interface CollectorLink {
  readonly url: string;
  mode(): LinkMode;
  set(mode: LinkMode): Promise<void>;
  /** Connections accepted while blackholed (still held open). */
  blackholed(): number;
  close(): Promise<void>;
}

/** Opens a link in mode `up` that forwards to `targetPort`. */
export function openCollectorLink(targetPort: number): CollectorLink {
  let mode: LinkMode = "up";
  let listener: Deno.TcpListener | undefined;
  /** Connections accepted while blackholed and still open. */
  const held = new Set<Deno.Conn>();
  const open = new Set<Deno.Conn>();
  let port = 0;

  const close = (c: Deno.Conn | undefined) => {
    try {
      c?.close();
    } catch { /* already closed */ }
  };
  // Copies bytes one way; while blackholed, bytes are dropped on the floor in both directions, so
  // a connection that was working simply stops answering, as on a partitioned network.
  const pump = async (from: Deno.Conn, to: Deno.Conn) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buf);
        if (n === null) break;
        if (mode === "blackhole") continue;
        let written = 0;
        while (written < n) written += await to.write(buf.subarray(written, n));
      }
    } catch { /* either side went away */ }
  };
  const serve = async (conn: Deno.Conn) => {
    open.add(conn);
    if (mode === "blackhole") held.add(conn);
    let upstream: Deno.TcpConn | undefined;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
      open.add(upstream);
      await Promise.race([pump(conn, upstream), pump(upstream, conn)]);
    } catch {
      /* the receiver is gone */
    } finally {
      open.delete(conn);
      held.delete(conn);
      if (upstream) open.delete(upstream);
      close(conn);
      close(upstream);
    }
  };
  const listen = () => {
    listener = Deno.listen({ hostname: "127.0.0.1", port });
    port = (listener.addr as Deno.NetAddr).port;
    const current = listener;
    (async () => {
      try {
        for await (const conn of current) void serve(conn);
      } catch { /* listener closed */ }
    })();
  };
  listen();

  return {
    url: `http://127.0.0.1:${port}`,
    mode: () => mode,
    async set(next) {
      if (next === mode) return;
      if (next === "down") {
        listener?.close();
        listener = undefined;
        // Refused means refused: drop the connections the exporter may be keeping alive.
        for (const c of open) close(c);
      } else if (!listener) {
        listen();
      }
      mode = next;
      await Promise.resolve();
    },
    blackholed: () => held.size,
    async close() {
      listener?.close();
      for (const c of open) close(c);
      await Promise.resolve();
    },
  };
}
