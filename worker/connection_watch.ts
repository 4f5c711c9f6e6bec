/** Tells whether the worker's Redis connection is down, and logs each outage once, not per retry. */

import type { Redis } from "ioredis";
import type { Logger } from "@logtape/logtape";
import { redactUrl } from "../redis/url.ts";

/** Watches `redis` (connected to `url`): `down` is true from the first error until it is ready again. */
export function watchConnection(redis: Redis, url: string, logger: Logger) {
  let down = false;
  redis.on("error", (error: Error) => {
    if (!down) {
      logger.warn("Redis at {url} unreachable ({error}); reconnecting", {
        url: redactUrl(url),
        error: error.message,
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
