/** A real redis-server for tests: own port, own data dir, stopped on dispose. */

import { Redis } from "ioredis";
import { waitUntil } from "./wait.ts";
import { deadline } from "../async/mod.ts";

/** A redis-server started by a test. */
export interface RedisServer extends AsyncDisposable {
  url: string;
  port: number;
  /**
   * Stops the server with `signal` (data stays in its dir when started with `persist`: with
   * SIGKILL, as a kill -9 leaves it, every acknowledged write is in its append-only file, fsynced
   * on each write). @default {"SIGTERM"}
   */
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  /** Starts it again on the same port and dir. */
  start(): Promise<void>;
  /** A client for the test's own checks; closed on dispose. */
  client(): Redis;
  /** Stops the server's process (SIGSTOP): connections stay open and nothing answers. */
  freeze(): void;
  /** Lets a frozen server run again (SIGCONT). */
  thaw(): void;
}

/** A TCP port nothing listens on right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Whether a Redis server answers on `hostname:port` within a second (`-NOAUTH` counts: it is one). */
export async function answersPing(hostname: string, port: number): Promise<boolean> {
  try {
    const connection = await Deno.connect({ hostname, port });
    try {
      await connection.write(new TextEncoder().encode("PING\r\n"));
      const buffer = new Uint8Array(64);
      const read = await deadline(connection.read(buffer), 1000).catch(() => null);
      const reply = read ? new TextDecoder().decode(buffer.subarray(0, read)) : "";
      return reply.startsWith("+PONG") || reply.startsWith("-NOAUTH");
    } finally {
      connection.close();
    }
  } catch {
    return false;
  }
}

/**
 * Starts `redis-server` on a free port. With `persist`, it keeps an append-only
 * file so a stop and start loses nothing (the outage tests need that).
 */
export async function startRedis(
  options: { persist?: boolean; password?: string } = {},
): Promise<RedisServer> {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "ppr-redis-" });
  const clients: Redis[] = [];
  let child: Deno.ChildProcess | undefined;

  const start = async () => {
    child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        options.persist ? "yes" : "no",
        "--appendfsync",
        "always",
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
        ...(options.password ? ["--requirepass", options.password] : []),
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitUntil(() => answersPing("127.0.0.1", port), {
      timeoutMs: 10_000,
      what: `redis-server on ${port}`,
    });
  };

  const stop = async (signal: "SIGTERM" | "SIGKILL" = "SIGTERM") => {
    if (!child) return;
    const running = child;
    child = undefined;
    try {
      running.kill(signal);
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        running.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, 5000);
    await running.status;
    clearTimeout(timer);
  };

  await start();
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : "";
  const url = `redis://${auth}127.0.0.1:${port}`;
  const signal = (name: Deno.Signal) => {
    try {
      child?.kill(name);
    } catch {
      // gone
    }
  };
  return {
    url,
    port,
    stop: async (stopSignal) => {
      signal("SIGCONT");
      await stop(stopSignal);
    },
    start,
    freeze: () => signal("SIGSTOP"),
    thaw: () => signal("SIGCONT"),
    client() {
      const client = new Redis(url, { maxRetriesPerRequest: null });
      client.on("error", () => {});
      clients.push(client);
      return client;
    },
    async [Symbol.asyncDispose]() {
      for (const client of clients) client.disconnect();
      signal("SIGCONT");
      await stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
