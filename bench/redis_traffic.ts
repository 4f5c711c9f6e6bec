/**
 * A counting proxy in front of a Redis server, for the bench: the commands its clients send and
 * the round trips they make, read from the bytes themselves rather than from what Redis reports.
 */

/** What the clients of a {@link RedisTrafficProxy} sent so far. */
export interface RedisTraffic {
  /** Commands sent (RESP arrays), a MULTI and its EXEC included. */
  commands: number;
  /**
   * Round trips: the times a client sent after having heard from Redis (or first). Whatever a
   * client writes before an answer comes back (a MULTI block, an ioredis pipeline, commands
   * issued together) is one round trip; a client that waits for an answer before its next
   * command makes one per command.
   */
  roundTrips: number;
  /** Commands sent per command name (upper case). */
  byName: Map<string, number>;
}

/** A proxy started by {@link startRedisTrafficProxy}. */
export interface RedisTrafficProxy extends AsyncDisposable {
  /** The port the proxy listens on (127.0.0.1). */
  port: number;
  /** `redis://127.0.0.1:<port>`. */
  url: string;
  /** What every client sent so far, connections closed since included. */
  traffic(): RedisTraffic;
  close(): Promise<void>;
}

/** The traffic from `before` to `after`. */
export function trafficBetween(before: RedisTraffic, after: RedisTraffic): RedisTraffic {
  const byName = new Map<string, number>();
  for (const [name, count] of after.byName) {
    const delta = count - (before.byName.get(name) ?? 0);
    if (delta !== 0) byName.set(name, delta);
  }
  return {
    commands: after.commands - before.commands,
    roundTrips: after.roundTrips - before.roundTrips,
    byName,
  };
}

const CR = 13;
const LF = 10;

/**
 * Counts the commands in a client's byte stream (RESP arrays of bulk strings, as ioredis and
 * every modern client send them), keeping a command cut across reads until it is whole.
 */
export function createCommandCounter(onCommand: (name: string) => void) {
  let pending = new Uint8Array(0);
  const decoder = new TextDecoder();
  /** The number on the line that starts at `at`, and where the next line starts; or `undefined`. */
  const lineAt = (bytes: Uint8Array, at: number): [number, number] | undefined => {
    for (let index = at + 1; index + 1 < bytes.length; index++) {
      if (bytes[index] === CR && bytes[index + 1] === LF) {
        return [Number(decoder.decode(bytes.subarray(at + 1, index))), index + 2];
      }
    }
    return undefined;
  };
  /** Where the command starting at `at` ends, and its name; `undefined` when it is not whole yet. */
  const commandAt = (bytes: Uint8Array, at: number): [number, string] | undefined => {
    const header = lineAt(bytes, at);
    if (!header) return undefined;
    let [count, next] = header;
    let name = "";
    for (let arg = 0; arg < count; arg++) {
      const length = lineAt(bytes, next);
      if (!length) return undefined;
      const end = length[1] + length[0] + 2;
      if (end > bytes.length) return undefined;
      if (arg === 0) name = decoder.decode(bytes.subarray(length[1], end - 2)).toUpperCase();
      next = end;
    }
    return [next, name];
  };
  return (chunk: Uint8Array) => {
    const bytes = pending.length === 0 ? chunk : concat(pending, chunk);
    let at = 0;
    while (at < bytes.length) {
      if (bytes[at] !== 42 /* '*' */) {
        throw new Error(`the bench's Redis proxy reads RESP arrays only: got byte ${bytes[at]}`);
      }
      const command = commandAt(bytes, at);
      if (!command) break;
      onCommand(command[1]);
      at = command[0];
    }
    pending = bytes.slice(at);
  };
}

function concat(first: Uint8Array, second: Uint8Array): Uint8Array {
  const joined = new Uint8Array(first.length + second.length);
  joined.set(first);
  joined.set(second, first.length);
  return joined;
}

/** Copies `from` to `to` until either side ends, showing each chunk to `seen` first. */
async function pipe(from: Deno.Conn, to: Deno.Conn, seen: (chunk: Uint8Array) => void) {
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const read = await from.read(buffer);
      if (read === null) break;
      seen(buffer.subarray(0, read));
      for (let written = 0; written < read;) {
        written += await to.write(buffer.subarray(written, read));
      }
    }
  } catch {
    // a side was closed or reset: the other one goes too
  }
}

/**
 * Listens on a free port of 127.0.0.1, forwards each connection to `127.0.0.1:targetPort` and
 * counts what the clients send (see {@link RedisTraffic}).
 */
export function startRedisTrafficProxy(targetPort: number): RedisTrafficProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const total: RedisTraffic = { commands: 0, roundTrips: 0, byName: new Map() };
  const open = new Set<Deno.Conn>();
  const forward = async (client: Deno.Conn) => {
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
    } catch {
      client.close();
      return;
    }
    open.add(client).add(server);
    /** Whether Redis spoke last on this connection: the client's next bytes start a round trip. */
    let heardFromRedis = true;
    const count = createCommandCounter((name) => {
      total.commands++;
      total.byName.set(name, (total.byName.get(name) ?? 0) + 1);
    });
    await Promise.race([
      pipe(client, server, (chunk) => {
        if (heardFromRedis) total.roundTrips++;
        heardFromRedis = false;
        count(chunk);
      }),
      pipe(server, client, () => heardFromRedis = true),
    ]);
    for (const conn of [client, server]) {
      open.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  };
  const accepting = (async () => {
    for await (const client of listener) forward(client);
  })().catch(() => {});
  const close = async () => {
    try {
      listener.close();
    } catch {
      // already closed
    }
    for (const conn of open) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    await accepting;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    traffic: () => ({ ...total, byName: new Map(total.byName) }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
