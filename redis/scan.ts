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
