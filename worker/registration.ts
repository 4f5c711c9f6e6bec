/** Keeps this worker's registration in Redis fresh while it runs (`ppr:worker:<name>`, with a TTL). */

import type { RedisClient } from "../redis/connection.ts";
import {
  register,
  type Registration,
  REGISTRATION_REFRESH_MS,
  unregister,
} from "../redis/registrations.ts";

/** Refreshes the registration every `REGISTRATION_REFRESH_MS` while Redis is up. */
export function startRegistration(
  redis: RedisClient,
  current: () => Registration,
  isRedisDown: () => boolean,
) {
  let refreshing = false;
  const refresh = async () => {
    if (refreshing || isRedisDown()) return;
    refreshing = true;
    await register(redis, current()).catch(() => {}).finally(() => (refreshing = false));
  };
  const timer = setInterval(refresh, REGISTRATION_REFRESH_MS);
  return {
    /** Writes it now (the worker has just become ready). */
    refresh,
    /** Stops refreshing and removes the registration (when Redis answers). */
    async stop(): Promise<void> {
      clearInterval(timer);
      if (!isRedisDown()) await unregister(redis, current().name).catch(() => {});
    },
  };
}
