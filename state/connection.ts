/** A Redis connection for a reader that must fail fast: the operator commands and the dashboard. */

import { deadline } from "../async/mod.ts";
import { connectRedis, type RedisClient, redisErrorText } from "../redis/connection.ts";
import { redactUrl } from "../redis/url.ts";

/** How long a reader waits for Redis to answer before it gives up. */
export const REDIS_ANSWER_MS = 10_000;

/**
 * Connects to Redis and waits for an answer, so a command against a wrong `REDIS_URL` ends
 * with a message within `REDIS_ANSWER_MS` instead of reconnecting forever.
 * Throws an `Error` naming the URL (password hidden) and the reason.
 *
 * @example
 * ```ts
 * const redis = await connectOrFail("redis://127.0.0.1:6379", "ppr-info");
 * redis.disconnect();
 * ```
 */
export async function connectOrFail(redisUrl: string, name: string): Promise<RedisClient> {
  const redis = connectRedis(redisUrl, { name });
  let lastError = "";
  redis.on("error", (error: Error) => (lastError = redisErrorText(error)));
  try {
    await deadline(redis.ping(), REDIS_ANSWER_MS, `no answer within ${REDIS_ANSWER_MS / 1000} s`);
    return redis;
  } catch (error) {
    redis.disconnect();
    const reason = lastError || (error instanceof Error ? error.message : String(error));
    throw new Error(
      `cannot reach Redis at ${redactUrl(redisUrl)}: ${reason} (check REDIS_URL or --redis-url)`,
    );
  }
}

/**
 * Runs `body` with a Redis connection that answers and closes it afterwards, whatever happens.
 *
 * @example
 * ```ts
 * const keys = await withRedis({ redisUrl: "redis://127.0.0.1:6379" }, "ppr-info", (redis) =>
 *   redis.dbsize());
 * ```
 */
export async function withRedis<T>(
  target: { redisUrl: string },
  name: string,
  body: (redis: RedisClient) => Promise<T>,
): Promise<T> {
  const redis = await connectOrFail(target.redisUrl, name);
  try {
    return await body(redis);
  } finally {
    redis.disconnect();
  }
}
