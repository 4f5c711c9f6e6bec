/** Worker registrations in Redis: written by each worker, expired by TTL. */

import type { Redis } from "ioredis";
import { WORKER_KEY_PATTERN, workerKey } from "./keys.ts";

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
/** A registration whose heartbeat is older than this (3 × the TTL) was left without a TTL: stale. */
export const STALE_AFTER_MS = 3 * REGISTRATION_TTL_S * 1000;
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

/** Removes a registration (a worker that stops cleanly). */
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
