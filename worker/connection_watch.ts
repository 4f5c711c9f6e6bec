/** Tells whether the worker's Redis connection is down, and logs each outage once, not per retry. */

import { type RedisClient, redisErrorText } from "../redis/connection.ts";
import type { Logger } from "@logtape/logtape";
import { redactUrl } from "../redis/url.ts";

/** What Redis answers to a wrong password or user: no reconnect will fix it. */
const REFUSED_CREDENTIALS = /WRONGPASS|NOAUTH|invalid username-password|invalid password/i;

/**
 * Watches `redis` (connected to `url`): `down` is true from the first error until it is ready
 * again. `onRefused` is called when Redis refuses the credentials.
 */
export function watchConnection(
  redis: RedisClient,
  url: string,
  logger: Logger,
  onRefused: (reason: string) => void,
) {
  let down = false;
  redis.on("error", (error: Error) => {
    const reason = redisErrorText(error);
    if (REFUSED_CREDENTIALS.test(reason)) return onRefused(reason);
    if (!down) {
      logger.warn("Redis at {url} unreachable ({error}); reconnecting", {
        url: redactUrl(url),
        error: reason,
      });
    }
    down = true;
  });
  redis.on("ready", () => {
    if (down) logger.info("Redis is back");
    down = false;
  });
  return {
    get down(): boolean {
      return down;
    },
  };
}

/** The state of the worker's Redis connection. */
export type ConnectionWatch = ReturnType<typeof watchConnection>;
