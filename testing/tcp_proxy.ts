/** A TCP proxy on 127.0.0.1 for tests: forwards to a port, and can cut every connection (a network partition) until healed. */

/** How a cut proxy treats connections opened during the cut. */
export type CutMode =
  /** Accepted and closed at once: the client sees its connection reset and retries. */
  | "refuse"
  /** Accepted and never answered: the client waits, as behind a dropped route. */
  | "blackhole";

/** A proxy started by `startTcpProxy`. */
export interface TcpProxy extends AsyncDisposable {
  /** The port the proxy listens on (127.0.0.1). */
  port: number;
  /** Connections forwarded now. */
  readonly open: number;
  /** Whether a cut is in force. */
  readonly isCut: boolean;
  /**
   * Closes every forwarded connection and treats new ones by `mode` until `heal()`.
   * @default {"blackhole"}
   */
  cut(mode?: CutMode): void;
  /** Ends a cut: connections held in the blackhole are closed, new ones are forwarded again. */
  heal(): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** Copies `from` to `to` until either side ends; a reset of either side ends both. */
async function pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const read = await from.read(buffer);
      if (read === null) break;
      for (let written = 0; written < read;) {
        written += await to.write(buffer.subarray(written, read));
      }
    }
  } catch {
    // a side was closed or reset: the other one goes too
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/**
 * Listens on a free port of 127.0.0.1 and forwards each connection to `127.0.0.1:targetPort`.
 *
 * @example
 * ```ts
 * await using proxy = startTcpProxy(6379);
 * // clients connect to redis://127.0.0.1:${proxy.port}
 * proxy.cut("blackhole"); // the partition begins
 * proxy.heal(); // and ends
 * ```
 */
export function startTcpProxy(targetPort: number): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  /** Each forwarded connection: the client's side and Redis's side. */
  const forwarded = new Set<[Deno.Conn, Deno.Conn]>();
  const held = new Set<Deno.Conn>();
  let cutMode: CutMode | undefined;

  const forward = async (client: Deno.Conn) => {
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
    } catch {
      closeQuietly(client);
      return;
    }
    if (cutMode !== undefined) {
      // Cut while connecting: this one is treated as cut too.
      closeQuietly(server);
      return admitDuringCut(client);
    }
    const pair: [Deno.Conn, Deno.Conn] = [client, server];
    forwarded.add(pair);
    await Promise.race([pipe(client, server), pipe(server, client)]);
    forwarded.delete(pair);
    closeQuietly(client);
    closeQuietly(server);
  };

  const admitDuringCut = (client: Deno.Conn) => {
    if (cutMode === "refuse") return closeQuietly(client);
    held.add(client);
  };

  const accepting = (async () => {
    for await (const client of listener) {
      if (cutMode !== undefined) admitDuringCut(client);
      else forward(client);
    }
  })().catch(() => {});

  const closeAll = () => {
    for (const [client, server] of forwarded) {
      closeQuietly(client);
      closeQuietly(server);
    }
    forwarded.clear();
    for (const client of held) closeQuietly(client);
    held.clear();
  };

  const close = async () => {
    try {
      listener.close();
    } catch {
      // already closed
    }
    closeAll();
    await accepting;
  };

  return {
    port,
    get open() {
      return forwarded.size;
    },
    get isCut() {
      return cutMode !== undefined;
    },
    cut(mode: CutMode = "blackhole") {
      cutMode = mode;
      closeAll();
    },
    heal() {
      cutMode = undefined;
      for (const client of held) closeQuietly(client);
      held.clear();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
