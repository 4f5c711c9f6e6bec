/** The start-up sweep: removes the worker registrations that no live worker owns. */

import type { Redis } from "ioredis";
import { workerKey } from "../redis/keys.ts";
import { listRegistrations, REGISTRATION_TTL_S } from "../redis/registrations.ts";
import { isWorkerOf } from "../protocol/worker_name.ts";

/**
 * Removes the registrations no live worker owns: every one of this host's
 * pool (called before the pool starts, so none of them is alive), and any whose
 * heartbeat is older than `maxAgeMs` (one left without a TTL).
 * Returns the names removed.
 */
export async function removeStaleRegistrations(
  redis: Redis,
  options: { hostname: string; now?: number; maxAgeMs?: number },
): Promise<string[]> {
  const now = options.now ?? Date.now();
  const maxAgeMs = options.maxAgeMs ?? 3 * REGISTRATION_TTL_S * 1000;
  const stale = (await listRegistrations(redis)).filter((registration) =>
    isWorkerOf(registration.name, options.hostname) ||
    now - Date.parse(registration.heartbeat_at) > maxAgeMs
  ).map((registration) => registration.name);
  if (stale.length > 0) await redis.del(...stale.map(workerKey));
  return stale;
}
