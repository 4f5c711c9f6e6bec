/** A real Sentinel setup for tests: a master, a replica and three redis-sentinel processes on loopback ports. */

import { Redis } from "ioredis";
import { commandRuns } from "./command.ts";
import {
  answersPing,
  freePort,
  type RedisServer,
  startRedis,
  type StartRedisOptions,
  urlCredentials,
} from "./redis.ts";
import { waitUntil } from "./wait.ts";

/** The master group name the Sentinels of {@link startSentinelSetup} watch. */
export const MASTER_NAME = "mymaster";

/** One redis-sentinel process. */
export interface SentinelProcess {
  port: number;
  /** Stops it (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** Stops its process (SIGSTOP): connections stay open and nothing answers, as from a hung host. */
  freeze(): void;
  /** Lets a frozen Sentinel run again (SIGCONT). */
  thaw(): void;
}

/** A master, its replica and three Sentinels, started by a test. */
export interface SentinelSetup extends AsyncDisposable {
  /** `redis+sentinel://[credentials@]127.0.0.1:<s1>,127.0.0.1:<s2>,127.0.0.1:<s3>/mymaster`. */
  url: string;
  /** The two data servers: the first is the master at the start. */
  servers: RedisServer[];
  sentinels: SentinelProcess[];
  /** The server the Sentinels name as master now. */
  master(): Promise<RedisServer>;
  /** The server that is not the master now. */
  replica(): Promise<RedisServer>;
  /**
   * Waits (bounded) until every Sentinel names `server` as master and `server` says it is one;
   * returns when that was first seen.
   */
  waitForMaster(server: RedisServer, timeoutMs?: number): Promise<void>;
  /** Waits (bounded) until the replica's link to the master is up and its offset is the master's. */
  waitForReplicaInSync(timeoutMs?: number): Promise<void>;
  /** A client of one data server, for the test's own checks; closed on dispose. */
  clientOf(server: RedisServer): Redis;
  /** A client of one Sentinel; closed on dispose. */
  sentinelClient(index?: number): Redis;
}

/** The credentials of a Sentinel setup's processes. */
export interface SentinelSetupOptions extends Pick<StartRedisOptions, "password" | "user"> {
  /** The Sentinels require no credentials of clients (the servers still do). @default {false} */
  openSentinels?: boolean;
}

/** Whether Debian's `redis-sentinel` is installed (tests that need it skip, saying why, without it). */
export function sentinelInstalled(): Promise<boolean> {
  return commandRuns("redis-sentinel", ["--version"]);
}

/** The `sentinel.conf` of one Sentinel watching the master on `masterPort`. */
function sentinelConf(
  port: number,
  dir: string,
  masterPort: number,
  credentials: SentinelSetupOptions,
): string {
  const lines = [
    `port ${port}`,
    "bind 127.0.0.1",
    "daemonize no",
    `dir ${dir}`,
    "loglevel warning",
    `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
    // Quick to see a dead master, as tests need; production keeps its own (often 5-30 s).
    `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
    `sentinel failover-timeout ${MASTER_NAME} 5000`,
    `sentinel parallel-syncs ${MASTER_NAME} 1`,
  ];
  const password = credentials.user?.password ?? credentials.password;
  if (credentials.openSentinels) {
    // The Sentinels ask clients for nothing; they still authenticate to the servers.
  } else if (credentials.user) {
    // The Sentinels take the same ACL user as the data servers, with the same password.
    lines.push(`user ${credentials.user.name} on >${password} ~* &* +@all`, "user default off");
    lines.push(`sentinel auth-user ${MASTER_NAME} ${credentials.user.name}`);
    lines.push(`sentinel sentinel-user ${credentials.user.name}`);
  } else if (password) {
    lines.push(`requirepass ${password}`);
  }
  if (password) lines.push(`sentinel auth-pass ${MASTER_NAME} ${password}`);
  if (password && !credentials.openSentinels) lines.push(`sentinel sentinel-pass ${password}`);
  return lines.join("\n") + "\n";
}

async function startSentinel(
  masterPort: number,
  credentials: SentinelSetupOptions,
): Promise<SentinelProcess & { dir: string }> {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "ppr-sentinel-" });
  const conf = `${dir}/sentinel.conf`;
  await Deno.writeTextFile(conf, sentinelConf(port, dir, masterPort, credentials));
  const child = new Deno.Command("redis-sentinel", {
    args: [conf],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const signal = (name: Deno.Signal) => {
    try {
      child.kill(name);
    } catch {
      // already gone
    }
  };
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      signal("SIGCONT");
      signal("SIGTERM");
      const timer = setTimeout(() => signal("SIGKILL"), 5000);
      await child.status;
      clearTimeout(timer);
    })();
  try {
    await waitUntil(() => answersPing("127.0.0.1", port), {
      timeoutMs: 10_000,
      what: `redis-sentinel on ${port}`,
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, dir, stop, freeze: () => signal("SIGSTOP"), thaw: () => signal("SIGCONT") };
}

/**
 * Starts a master, a replica of it and three Sentinels (quorum 2, a master is down after 1 s),
 * and waits until the replica is in sync and every Sentinel knows both servers and the other
 * Sentinels. With `password` or `user`, every server and every Sentinel takes those credentials
 * (and the URL carries them); with `openSentinels`, the Sentinels take none from clients. Disposing it stops every process and removes their directories,
 * whatever the test did.
 */
export async function startSentinelSetup(
  options: SentinelSetupOptions = {},
): Promise<SentinelSetup> {
  const clients: Redis[] = [];
  const servers: RedisServer[] = [];
  const sentinels: (SentinelProcess & { dir: string })[] = [];
  const dispose = async () => {
    for (const client of clients) client.disconnect();
    await Promise.all(sentinels.map((sentinel) => sentinel.stop()));
    await Promise.all(servers.map((server) => server[Symbol.asyncDispose]()));
    await Promise.all(
      sentinels.map((sentinel) => Deno.remove(sentinel.dir, { recursive: true }).catch(() => {})),
    );
  };
  try {
    const credentials = { password: options.password, user: options.user };
    const master = await startRedis(credentials);
    servers.push(master);
    servers.push(await startRedis({ ...credentials, replicaOf: master.port }));
    for (let index = 0; index < 3; index++) {
      sentinels.push(await startSentinel(master.port, options));
    }
    const newClient = (port: number, withCredentials = true) => {
      const client = new Redis({
        host: "127.0.0.1",
        port,
        username: withCredentials ? options.user?.name : undefined,
        password: withCredentials ? options.user?.password ?? options.password : undefined,
        maxRetriesPerRequest: 1,
        connectTimeout: 2000,
        retryStrategy: () => 200,
      });
      client.on("error", () => {});
      clients.push(client);
      return client;
    };
    const clientOf = (server: RedisServer) => newClient(server.port);
    const sentinelClient = (index = 0) => newClient(sentinels[index].port, !options.openSentinels);
    const probes = sentinels.map((_, index) => sentinelClient(index));
    const serverClients = new Map(servers.map((server) => [server, clientOf(server)]));

    const masterPortOf = async (probe: Redis) => {
      const reply = await probe.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME);
      return Array.isArray(reply) ? Number(reply[1]) : undefined;
    };
    const roleOf = async (server: RedisServer) => {
      const reply = await serverClients.get(server)!.call("ROLE") as unknown[];
      return String(reply[0]);
    };
    const setup: SentinelSetup = {
      url: `redis+sentinel://${urlCredentials(options)}${
        sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(",")
      }/${MASTER_NAME}`,
      servers,
      sentinels,
      async master() {
        const port = await masterPortOf(probes[0]);
        const found = servers.find((server) => server.port === port);
        if (!found) throw new Error(`the Sentinels name no server of this setup: port ${port}`);
        return found;
      },
      async replica() {
        const master = await setup.master();
        return servers.find((server) => server !== master)!;
      },
      async waitForMaster(server, timeoutMs = 30_000) {
        await waitUntil(async () => {
          const ports = await Promise.all(probes.map((probe) => masterPortOf(probe)));
          return ports.every((port) => port === server.port) && await roleOf(server) === "master";
        }, {
          timeoutMs,
          intervalMs: 50,
          what: `every Sentinel to name port ${server.port} master`,
        });
      },
      async waitForReplicaInSync(timeoutMs = 30_000) {
        await waitUntil(async () => {
          const master = await setup.master();
          const replica = servers.find((server) => server !== master)!;
          const info = await serverClients.get(replica)!.info("replication");
          const link = /master_link_status:up/.test(info);
          const masterOffset = /master_repl_offset:(\d+)/.exec(
            await serverClients.get(master)!.info("replication"),
          )?.[1];
          const replicaOffset = /slave_repl_offset:(\d+)/.exec(info)?.[1];
          return link && masterOffset !== undefined && masterOffset === replicaOffset;
        }, { timeoutMs, intervalMs: 50, what: "the replica in sync with the master" });
      },
      clientOf,
      sentinelClient,
      [Symbol.asyncDispose]: dispose,
    };
    await setup.waitForReplicaInSync();
    // Each Sentinel must know the replica and two other Sentinels, or a failover cannot start.
    await waitUntil(async () => {
      for (const probe of probes) {
        const reply = await probe.call("SENTINEL", "MASTER", MASTER_NAME) as string[];
        const fields = new Map<string, string>();
        for (let index = 0; index + 1 < reply.length; index += 2) {
          fields.set(reply[index], reply[index + 1]);
        }
        if (fields.get("num-slaves") !== "1" || fields.get("num-other-sentinels") !== "2") {
          return false;
        }
      }
      return true;
    }, {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: "every Sentinel to know the replica and the other two",
    });
    return setup;
  } catch (error) {
    await dispose();
    throw error;
  }
}
