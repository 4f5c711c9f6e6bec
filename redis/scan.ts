/** `SCAN` over every key of a Redis setup: the one server's, or every master's of a Cluster. */

import { isCluster, type RedisClient } from "./connection.ts";

/**
 * The keys matching `pattern`, a batch at a time, read with `SCAN` (never `KEYS`). A Cluster's
 * `SCAN` sees only the node it is sent to, so each master is scanned in turn; while a master is
 * failing over, the keys of its slots may be missed until its replica takes over.
 *
 * @example
 * ```ts ignore
 * import { scanKeys } from "./scan.ts";
 *
 * for await (const keys of scanKeys(redis, "ppr:worker:*")) console.log(keys);
 * ```
 */
export async function* scanKeys(
  redis: RedisClient,
  pattern: string,
  count = 200,
): AsyncGenerator<string[]> {
  const servers = isCluster(redis) ? redis.nodes("master") : [redis];
  for (const server of servers) {
    for await (const keys of server.scanStream({ match: pattern, count })) {
      if ((keys as string[]).length > 0) yield keys as string[];
    }
  }
}

/**
 * The values of the keys matching `pattern` that `parse` accepts, each key read alone (`GET`,
 * sent together), not with `MGET`: a Cluster spreads them over its slots.
 */
export async function readScanned<T>(
  redis: RedisClient,
  pattern: string,
  parse: (value: string | null) => T | undefined,
): Promise<T[]> {
  const found: T[] = [];
  for await (const keys of scanKeys(redis, pattern)) {
    const values = await Promise.all(keys.map((key) => redis.get(key)));
    for (const value of values) {
      const parsed = parse(value);
      if (parsed !== undefined) found.push(parsed);
    }
  }
  return found;
}
