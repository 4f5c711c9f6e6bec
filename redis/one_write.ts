/** Sends the commands that a piece of work issues without waiting in one write: one round trip. */

import { setImmediate } from "node:timers";
import type { RedisClient } from "./connection.ts";

/** The part of ioredis's socket this uses. */
interface Corkable {
  cork(): void;
  uncork(): void;
  destroyed?: boolean;
}

/**
 * Runs `work` with the writes of `redis`'s connection held until the current turn of the event
 * loop ends, so that the commands `work` issues one after the other without waiting for an
 * answer (`Promise.all` of independent writes) leave in one write and cost one round trip,
 * rather than one each when an answer comes back between two of them. A command issued after
 * `work` first waits for something else goes out on its own, as before. A Cluster, or a
 * connection not ready, is used as it is.
 *
 * @example
 * ```ts
 * import type { Redis } from "ioredis";
 * import { inOneWrite } from "./one_write.ts";
 *
 * // Needs a Redis server, so it is a function: `deno test --doc` type-checks it, never calls it.
 * async function countBoth(redis: Redis) {
 *   return await inOneWrite(redis, () => Promise.all([redis.incr("a"), redis.incr("b")]));
 * }
 * ```
 */
export async function inOneWrite<T>(redis: RedisClient, work: () => Promise<T>): Promise<T> {
  const stream = "stream" in redis ? (redis.stream as unknown as Corkable) : undefined;
  if (!stream?.cork || redis.status !== "ready" || stream.destroyed) return await work();
  stream.cork();
  setImmediate(() => stream.uncork());
  return await work();
}
