/** Redis `WAIT` for ppr-worker's own writes: on the very connection that made them, how many replicas acknowledged them. */

import type { Redis } from "ioredis";
import { isCluster, type RedisClient } from "./connection.ts";
import { keySlot } from "./keys.ts";

/** What a write must reach before it counts as safe (`REDIS_WAIT_REPLICAS`, `REDIS_WAIT_TIMEOUT`). */
export interface ReplicaWaitOptions {
  /** Replicas that must acknowledge; 0 asks nothing. */
  replicas: number;
  /** Longest wait, in ms (never 0: `WAIT n 0` would block forever). */
  timeoutMs: number;
}

/** What one `WAIT` said. */
export interface ReplicaWaitResult {
  /** Every write covered reached `replicas` replicas, on the connection that made it. */
  acknowledged: boolean;
  /** The replicas that acknowledged (`WAIT`'s reply; 0 when it could not be asked). */
  replicas: number;
  /** Why it is not acknowledged, when it is not. */
  reason?: string;
}

/**
 * The server connection of `redis` that carries the commands on `key`: the client itself for
 * one server or a Sentinel master, a Cluster's connection to the master of `key`'s slot (as the
 * client knows the slots now), or `undefined` when the Cluster knows no node for it.
 */
export function serverConnectionOf(redis: RedisClient, key: string): Redis | undefined {
  if (!isCluster(redis)) return redis;
  const owner = redis.slots[keySlot(key)]?.[0];
  if (owner === undefined) return undefined;
  return redis.nodes("master").find((node) =>
    `${node.options.host}:${node.options.port}` === owner
  );
}

/**
 * A mark of the server-side client that carries `key`'s commands now: its socket, which every
 * reconnect replaces. Taken before some writes and compared after a `WAIT`, equal marks prove
 * that the writes and the `WAIT` went through one server-side client: `WAIT` counts only the
 * writes of the client that sends it.
 */
export function connectionMarkOf(redis: RedisClient, key: string): unknown {
  return serverConnectionOf(redis, key)?.stream;
}

/**
 * Sends `WAIT replicas timeoutMs` on the connection that carries `key`'s commands and says
 * whether every write made on it since `since` (a {@link connectionMarkOf} taken before those
 * writes) reached `replicas` replicas. Not acknowledged: fewer replicas answered in time, the
 * connection was replaced since `since` (the writes may have gone to a server it no longer
 * talks to, e.g. a master that failed over), or `WAIT` failed. `WAIT` blocks that connection on
 * the server until it returns: commands sent behind it on the same connection wait too.
 *
 * @example
 * ```ts ignore
 * const since = connectionMarkOf(redis, "{ppr}:llm:meta");
 * await queue.add("llm", { prompt: "hi" });
 * const { acknowledged } = await waitForReplicas(redis, "{ppr}:llm:meta", since, {
 *   replicas: 1,
 *   timeoutMs: 1000,
 * });
 * ```
 */
export async function waitForReplicas(
  redis: RedisClient,
  key: string,
  since: unknown,
  options: ReplicaWaitOptions,
): Promise<ReplicaWaitResult> {
  if (options.replicas <= 0) return { acknowledged: true, replicas: 0 };
  const connection = serverConnectionOf(redis, key);
  if (!connection || connection.stream !== since) {
    return { acknowledged: false, replicas: 0, reason: "the connection was replaced meanwhile" };
  }
  let replicas: number;
  try {
    replicas = await connection.wait(options.replicas, Math.max(1, Math.round(options.timeoutMs)));
  } catch (error) {
    return {
      acknowledged: false,
      replicas: 0,
      reason: `WAIT failed: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  if (connection.stream !== since) {
    return { acknowledged: false, replicas, reason: "the connection was replaced meanwhile" };
  }
  return replicas >= options.replicas ? { acknowledged: true, replicas } : {
    acknowledged: false,
    replicas,
    reason: `${replicas} of ${options.replicas} replica(s) within ${options.timeoutMs} ms`,
  };
}
