/** A real redis-server for tests: own port, own data dir, stopped on dispose. */

import { Redis } from "ioredis";
import { waitUntil } from "./wait.ts";
import { deadline } from "../async/mod.ts";

/** A redis-server started by a test. */
export interface RedisServer extends AsyncDisposable {
  url: string;
  port: number;
  /** The pid of its process; `undefined` while it is stopped. */
  readonly pid: number | undefined;
  /**
   * Stops the server with `signal` (data stays in its dir when started with `persist`: with
   * SIGKILL, as a kill -9 leaves it, every acknowledged write is in its append-only file, fsynced
   * on each write). @default {"SIGTERM"}
   */
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  /**
   * Starts it again on the same port and dir; with `replicaOf`, as a replica of the server on
   * 127.0.0.1 at that port (how a master without its data must come back after a failover).
   */
  start(options?: { replicaOf?: number }): Promise<void>;
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

/** How a test's redis-server is started. */
export interface StartRedisOptions {
  /** Keep an append-only file, so a stop and start loses nothing. @default {false} */
  persist?: boolean;
  /** The `default` user's password (`requirepass`). */
  password?: string;
  /** An ACL user with every permission; the `default` user is then off. */
  user?: { name: string; password: string };
  /**
   * Starts it as a replica of the server on 127.0.0.1 at this port. With credentials, a server
   * authenticates with them to its master (a master too, once a failover demotes it).
   */
  replicaOf?: number;
  /** More configuration, as `redis-server` takes it on its command line (`--cluster-enabled yes`). */
  args?: string[];
}

/** The `redis-server` arguments that give a server `options`' credentials, for it and as a replica. */
function credentialArgs(options: StartRedisOptions): string[] {
  const args: string[] = [];
  if (options.password) args.push("--requirepass", options.password);
  if (options.user) {
    args.push("--user", options.user.name, "on", `>${options.user.password}`, "~*", "&*", "+@all");
    args.push("--user", "default", "off");
  }
  // A master too may become a replica (a failover demotes it): it needs them as well.
  if (options.user) args.push("--masteruser", options.user.name);
  const password = options.user?.password ?? options.password;
  if (password) args.push("--masterauth", password);
  if (options.replicaOf !== undefined) {
    args.push("--replicaof", "127.0.0.1", String(options.replicaOf));
  }
  return args;
}

/** The `user:password@` part of a URL for `options`' credentials, or `""`. */
export function urlCredentials(options: Pick<StartRedisOptions, "password" | "user">): string {
  if (options.user) {
    return `${encodeURIComponent(options.user.name)}:${encodeURIComponent(options.user.password)}@`;
  }
  return options.password ? `:${encodeURIComponent(options.password)}@` : "";
}

/**
 * Starts `redis-server` on a free port. With `persist`, it keeps an append-only
 * file so a stop and start loses nothing (the outage tests need that). With `replicaOf`, `user`
 * and `args`, it is one server of a Sentinel or Cluster setup (`testing/redis_sentinel.ts`,
 * `testing/redis_cluster.ts`).
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "ppr-redis-" });
  const clients: Redis[] = [];
  let child: Deno.ChildProcess | undefined;

  const start = async (restart: { replicaOf?: number } = {}) => {
    const replicaOf = restart.replicaOf ?? options.replicaOf;
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
        // A replica syncs at once, not after Redis's 5 s wait for more replicas to share it.
        "--repl-diskless-sync-delay",
        "0",
        ...credentialArgs({ ...options, replicaOf }),
        ...(options.args ?? []),
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
  const url = `redis://${urlCredentials(options)}127.0.0.1:${port}`;
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
    get pid() {
      return child?.pid;
    },
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

/**
 * Starts a master and a replica of it, and waits (bounded) until the master sees the replica
 * online: for tests of `WAIT`. Disposing it stops both.
 */
export async function startReplicatedRedis(
  options: Pick<StartRedisOptions, "password" | "user"> = {},
): Promise<{ master: RedisServer; replica: RedisServer } & AsyncDisposable> {
  const master = await startRedis(options);
  let replica: RedisServer | undefined;
  try {
    replica = await startRedis({ ...options, replicaOf: master.port });
    const probe = master.client();
    // Online as the master sees it (after the replica's first acknowledgement): only then does
    // a WAIT ask it at once; before, its next acknowledgement is up to a second away.
    await waitUntil(async () => /slave0:.*state=online/.test(await probe.info("replication")), {
      timeoutMs: 20_000,
      what: `the replica on ${replica.port} online for its master`,
    });
  } catch (error) {
    await replica?.[Symbol.asyncDispose]();
    await master[Symbol.asyncDispose]();
    throw error;
  }
  const started = replica;
  return {
    master,
    replica: started,
    async [Symbol.asyncDispose]() {
      await started[Symbol.asyncDispose]();
      await master[Symbol.asyncDispose]();
    },
  };
}
