/** Opens the ioredis connections ppr-worker uses (one server, a Sentinel group or a Cluster), with reconnects that never give up. */

import { Cluster, type ClusterOptions, Redis, type RedisOptions as IoRedisOptions } from "ioredis";
import { SwitchSafeSentinelConnector } from "./sentinel_connector.ts";
import { parseRedisUrl, type RedisTarget } from "./url.ts";

/**
 * A connection as every part of ppr-worker holds it: to one server or a Sentinel group's
 * master (`Redis`), or to a Cluster (`Cluster`). Both have the same command methods; what only
 * one of them has (`scanStream`, a node's own connection) is reached through the helpers of
 * `redis/` (`scan.ts`, `wait_replicas.ts`), which handle both.
 */
export type RedisClient = Redis | Cluster;

/** How a connection behaves while Redis is down. */
export interface RedisOptions {
  /**
   * BullMQ workers need `maxRetriesPerRequest: null` (commands wait for a
   * reconnect instead of failing). Other clients fail a command after a few
   * retries so callers are not stuck while Redis is down. On a Cluster, a blocking client's
   * commands also ride out a master's failover (about 25 s of retries), others give up after
   * ioredis's 16 redirections.
   * @default {false}
   */
  blocking?: boolean;
  /** Client name shown by `CLIENT LIST`. */
  name?: string;
}

/** The reconnect delay: grows to 2 s, so an outage causes no reconnect storm. */
function reconnectDelayMs(attempt: number): number {
  return Math.min(100 * 2 ** Math.min(attempt, 5), 2000);
}

/** Whether Redis refused a write because the server is now a replica (a demoted master). */
function isReadOnlyError(error: Error): boolean {
  return error.message.startsWith("READONLY");
}

/** The options every connection shares, whatever the setup. */
function commonOptions(options: RedisOptions): IoRedisOptions {
  return {
    maxRetriesPerRequest: options.blocking ? null : 2,
    enableReadyCheck: true,
    connectionName: options.name,
    retryStrategy: reconnectDelayMs,
    // A connection attempt to an address that does not answer must not hang for ioredis's 10 s default.
    connectTimeout: 5000,
  };
}

/**
 * The ioredis options of a Sentinel group's master. `failoverDetector` subscribes to the
 * Sentinels' `+switch-master` and reconnects at once: with ioredis's default the clients kept
 * writing to the old master until Sentinel demoted it, and those writes were lost when it
 * resynced from the new one. A write that still reaches the demoted master (`READONLY`) makes
 * the client reconnect and send it again, to the new master.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { parseRedisUrl } from "./url.ts";
 * import { sentinelOptions } from "./connection.ts";
 *
 * const parsed = parseRedisUrl("redis+sentinel://app:pw@10.0.0.1,10.0.0.2/mymaster/1");
 * assert(parsed.ok && parsed.target.kind === "sentinel");
 * const options = sentinelOptions(parsed.target, { blocking: true });
 * assert.equal(options.failoverDetector, true);
 * assert.equal(options.maxRetriesPerRequest, null);
 * assert.deepEqual([options.name, options.db, options.sentinelPassword], ["mymaster", 1, "pw"]);
 * ```
 */
export function sentinelOptions(
  target: Extract<RedisTarget, { kind: "sentinel" }>,
  options: RedisOptions = {},
): IoRedisOptions {
  return {
    ...commonOptions(options),
    sentinels: target.sentinels,
    name: target.masterName,
    role: "master",
    db: target.db,
    username: target.username,
    password: target.password,
    sentinelUsername: target.username,
    sentinelPassword: target.password,
    ...(target.tls ? { tls: {}, enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
    failoverDetector: true,
    // ioredis's own, but a master switch seen while reconnecting no longer ends the client.
    Connector: SwitchSafeSentinelConnector,
    reconnectOnError: (error) => (isReadOnlyError(error) ? 2 : false),
    sentinelRetryStrategy: (attempt) => Math.min(50 * attempt, 1000),
    // A Sentinel that takes a connection and never answers (a hung host) is left after 2 s for
    // the next one; ioredis's default waits on it for ever.
    sentinelCommandTimeout: 2000,
    // Each attempt asks a Sentinel for the master first: a lost master's successor is found
    // within a second of its promotion, not after the doubling delays of one server's reconnect.
    retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
  };
}

/**
 * The ioredis options of a Cluster. While a master is lost and before its replica is promoted,
 * a command is retried every `retryDelayOnFailover`: a blocking client (a worker) for about
 * 25 s, longer than a failover with Redis's default `cluster-node-timeout` of 15 s; another one
 * gives up after ioredis's default 16 redirections (a second or two).
 */
export function clusterOptions(
  target: Extract<RedisTarget, { kind: "cluster" }>,
  options: RedisOptions = {},
): ClusterOptions {
  const { retryStrategy: _perNode, ...perNode } = commonOptions(options);
  return {
    redisOptions: {
      ...perNode,
      username: target.username,
      password: target.password,
      ...(target.tls ? { tls: {} } : {}),
    },
    clusterRetryStrategy: reconnectDelayMs,
    enableReadyCheck: true,
    retryDelayOnFailover: 250,
    retryDelayOnClusterDown: 250,
    retryDelayOnTryAgain: 250,
    maxRedirections: options.blocking ? 200 : 16,
  };
}

/**
 * Connects to `url`, a `REDIS_URL` of any form (`redis/url.ts`): one server, the master of a
 * Sentinel group, or a Cluster. The client reconnects forever with a delay that grows to 2 s,
 * so a Redis outage causes neither a crash nor a reconnect storm. Errors are only emitted as
 * events; the caller decides what to log. Throws when `url` is no `REDIS_URL` (the
 * configuration refuses those first).
 *
 * @example
 * ```ts ignore
 * import { connectRedis } from "./connection.ts";
 *
 * const redis = connectRedis("redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster");
 * await redis.set("greeting", "hello");
 * redis.disconnect();
 * ```
 */
export function connectRedis(url: string, options: RedisOptions = {}): RedisClient {
  const parsed = parseRedisUrl(url);
  if (!parsed.ok) {
    throw new Error(`Cannot connect to Redis as the URL is invalid: ${parsed.problem}`);
  }
  const target = parsed.target;
  if (target.kind === "sentinel") return new Redis(sentinelOptions(target, options));
  if (target.kind === "cluster") return new Cluster(target.nodes, clusterOptions(target, options));
  return new Redis(target.url, commonOptions(options));
}

/** Whether `redis` is a Cluster client (ioredis marks it so; BullMQ reads the same mark). */
export function isCluster(redis: RedisClient): redis is Cluster {
  return (redis as { isCluster?: boolean }).isCluster === true;
}

/**
 * What a connection's `error` event says: its message, and for a Cluster the last node's own
 * error, which its message ("Failed to refresh slots cache.") leaves out (e.g. `WRONGPASS`).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { redisErrorText } from "./connection.ts";
 *
 * const error = Object.assign(new Error("Failed to refresh slots cache."), {
 *   lastNodeError: new Error("WRONGPASS invalid username-password pair"),
 * });
 * assert.equal(
 *   redisErrorText(error),
 *   "Failed to refresh slots cache. WRONGPASS invalid username-password pair",
 * );
 * assert.equal(redisErrorText(new Error("ECONNREFUSED")), "ECONNREFUSED");
 * ```
 */
export function redisErrorText(error: Error): string {
  const nodeError = (error as { lastNodeError?: unknown }).lastNodeError;
  return nodeError instanceof Error ? `${error.message} ${nodeError.message}` : error.message;
}
