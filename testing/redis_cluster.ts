/** A real Redis Cluster for tests: three masters with one replica each, on loopback ports. */

import { Cluster, Redis } from "ioredis";
import { freePort, type RedisServer, startRedis, type StartRedisOptions } from "./redis.ts";
import { urlCredentials } from "./redis.ts";
import { runCommand } from "./command.ts";
import { waitUntil } from "./wait.ts";

/** Three masters with a replica each, started by a test. */
export interface RedisClusterSetup extends AsyncDisposable {
  /** `redis-cluster://[credentials@]127.0.0.1:<p1>,127.0.0.1:<p2>,127.0.0.1:<p3>`. */
  url: string;
  /** The six servers (killed ones included). */
  servers: RedisServer[];
  /** The server that is master of `key`'s slot now, as a live node says. */
  masterOf(key: string): Promise<RedisServer>;
  /** Waits (bounded) until every live node says the cluster is ok and `server` is a master. */
  waitForMaster(server: RedisServer, timeoutMs?: number): Promise<void>;
  /** The replica of `master` (as a live node says now). */
  replicaOf(master: RedisServer): Promise<RedisServer>;
  /** A client of one server, for the test's own checks; closed on dispose. */
  clientOf(server: RedisServer): Redis;
  /** A Cluster client, for the test's own checks; closed on dispose. */
  client(): Cluster;
}

/** A line of `CLUSTER NODES`: the node's id, port, flags and master id. */
interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  masterId: string;
}

function parseNodes(text: string): NodeLine[] {
  return text.trim().split("\n").map((line) => {
    const [id, address, flags, masterId] = line.split(" ");
    return {
      id,
      port: Number(/:(\d+)@/.exec(address)?.[1]),
      flags: flags.split(","),
      masterId,
    };
  });
}

/**
 * Starts six `redis-server --cluster-enabled yes` (node timeout 2 s: a dead master's replica
 * takes over within a few seconds), joins them with `redis-cli --cluster create` (three masters,
 * one replica each), and waits until every node says the cluster is ok and every replica is in
 * sync. With `password` or `user`, every node takes those credentials. Disposing it stops every
 * server, whatever the test did.
 */
export async function startRedisCluster(
  options: Pick<StartRedisOptions, "password" | "user"> = {},
): Promise<RedisClusterSetup> {
  const servers: RedisServer[] = [];
  const clients: (Redis | Cluster)[] = [];
  const dispose = async () => {
    for (const client of clients) client.disconnect();
    await Promise.all(servers.map((server) => server[Symbol.asyncDispose]()));
  };
  try {
    for (let index = 0; index < 6; index++) {
      servers.push(
        await startRedis({
          ...options,
          args: [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "2000",
            // The bus port is port + 10000 by default: not surely free, so one of its own.
            "--cluster-port",
            String(freePort()),
          ],
        }),
      );
    }
    const password = options.user?.password ?? options.password;
    const auth = [
      ...(options.user ? ["--user", options.user.name] : []),
      ...(password ? ["-a", password, "--no-auth-warning"] : []),
    ];
    const created = await runCommand("redis-cli", [
      ...auth,
      "--cluster",
      "create",
      ...servers.map((server) => `127.0.0.1:${server.port}`),
      "--cluster-replicas",
      "1",
      "--cluster-yes",
    ], { timeoutMs: 60_000 });
    if (created.code !== 0) {
      throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    }
    const clientOf = (server: RedisServer) => {
      const client = new Redis({
        host: "127.0.0.1",
        port: server.port,
        username: options.user?.name,
        password,
        maxRetriesPerRequest: 1,
        connectTimeout: 2000,
        retryStrategy: () => 200,
      });
      client.on("error", () => {});
      clients.push(client);
      return client;
    };
    const probes = new Map(servers.map((server) => [server, clientOf(server)]));
    const live = () => servers.filter((server) => server.pid !== undefined);
    const nodesSeenBy = async (server: RedisServer) =>
      parseNodes(String(await probes.get(server)!.call("CLUSTER", "NODES")));
    const serverOnPort = (port: number) => servers.find((server) => server.port === port)!;
    const setup: RedisClusterSetup = {
      url: `redis-cluster://${urlCredentials(options)}${
        servers.slice(0, 3).map((server) => `127.0.0.1:${server.port}`).join(",")
      }`,
      servers,
      async masterOf(key) {
        const probe = probes.get(live()[0])!;
        const slot = Number(await probe.call("CLUSTER", "KEYSLOT", key));
        const ranges = await probe.call("CLUSTER", "SLOTS") as [number, number, [string, number]][];
        const range = ranges.find(([from, to]) => slot >= from && slot <= to);
        if (!range) throw new Error(`no node serves slot ${slot}`);
        return serverOnPort(Number(range[2][1]));
      },
      async waitForMaster(server, timeoutMs = 30_000) {
        await waitUntil(async () => {
          for (const each of live()) {
            const info = String(await probes.get(each)!.call("CLUSTER", "INFO"));
            if (!info.includes("cluster_state:ok")) return false;
            const self = (await nodesSeenBy(each)).find((node) => node.port === server.port);
            if (!self?.flags.includes("master")) return false;
          }
          return true;
        }, { timeoutMs, intervalMs: 50, what: `port ${server.port} master, the cluster ok` });
      },
      async replicaOf(master) {
        const nodes = await nodesSeenBy(live()[0]);
        const id = nodes.find((node) => node.port === master.port)?.id;
        const replica = nodes.find((node) => node.masterId === id && node.flags.includes("slave"));
        if (!replica) throw new Error(`port ${master.port} has no replica`);
        return serverOnPort(replica.port);
      },
      clientOf,
      client() {
        const client = new Cluster(
          servers.slice(0, 3).map((server) => ({ host: "127.0.0.1", port: server.port })),
          { redisOptions: { username: options.user?.name, password } },
        );
        client.on("error", () => {});
        clients.push(client);
        return client;
      },
      [Symbol.asyncDispose]: dispose,
    };
    await waitUntil(async () => {
      for (const server of servers) {
        const info = String(await probes.get(server)!.call("CLUSTER", "INFO"));
        if (!info.includes("cluster_state:ok") || !info.includes("cluster_known_nodes:6")) {
          return false;
        }
        const nodes = await nodesSeenBy(server);
        if (nodes.filter((node) => node.flags.includes("master")).length !== 3) return false;
        if (nodes.filter((node) => node.flags.includes("slave")).length !== 3) return false;
        const replication = await probes.get(server)!.info("replication");
        if (replication.includes("role:slave") && !replication.includes("master_link_status:up")) {
          return false;
        }
      }
      return true;
    }, { timeoutMs: 60_000, intervalMs: 100, what: "the cluster ok, every replica in sync" });
    return setup;
  } catch (error) {
    await dispose();
    throw error;
  }
}
