/** Worker registrations in Redis: written by each worker, expired by TTL, swept of stale ones at start. */

import type { Redis } from "ioredis";
import { WORKER_KEY_PATTERN, workerKey } from "../redis/keys.ts";

/** What a worker says about itself under `ppr:worker:<name>`. */
export interface Registration {
  name: string;
  hostname: string;
  pid: number;
  queues: string[];
  started_at: string;
  heartbeat_at: string;
  active_jobs: number;
  processed: number;
  failed: number;
}

/** Seconds a registration outlives its last refresh. */
export const REGISTRATION_TTL_S = 15;
/** How often a worker refreshes its registration. */
export const REGISTRATION_REFRESH_MS = 5000;

/** Writes or refreshes a registration with its TTL. */
export async function register(redis: Redis, registration: Registration): Promise<void> {
  await redis.set(
    workerKey(registration.name),
    JSON.stringify(registration),
    "EX",
    REGISTRATION_TTL_S,
  );
}

export async function unregister(redis: Redis, name: string): Promise<void> {
  await redis.del(workerKey(name));
}

/** Every registration, read with `SCAN` (never `KEYS`). */
export async function listRegistrations(redis: Redis): Promise<Registration[]> {
  const found: Registration[] = [];
  for await (const keys of redis.scanStream({ match: WORKER_KEY_PATTERN, count: 200 })) {
    if ((keys as string[]).length === 0) continue;
    const values = await redis.mget(...(keys as string[]));
    for (const value of values) {
      if (value === null) continue;
      try {
        found.push(JSON.parse(value));
      } catch {
        // Not ours to read; left alone.
      }
    }
  }
  return found;
}

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
  const ownPrefix = `worker-${options.hostname}-`;
  const stale = (await listRegistrations(redis)).filter((registration) =>
    (registration.name.startsWith(ownPrefix) &&
      /^\d+$/.test(registration.name.slice(ownPrefix.length))) ||
    now - Date.parse(registration.heartbeat_at) > maxAgeMs
  ).map((registration) => registration.name);
  if (stale.length > 0) await redis.del(...stale.map(workerKey));
  return stale;
}
