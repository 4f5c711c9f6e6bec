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

/**
 * Writes or refreshes a registration with its TTL. While Redis refuses writes that need memory
 * (`maxmemory` reached with `noeviction`: an `OOM` error), only the TTL is renewed (`EXPIRE` needs
 * none): the registration stays, with its last content, so the worker does not vanish from
 * `info` and its hostname stays claimed.
 */
export async function register(redis: Redis, registration: Registration): Promise<void> {
  const key = workerKey(registration.name);
  try {
    await redis.set(key, JSON.stringify(registration), "EX", REGISTRATION_TTL_S);
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith("OOM "))) throw error;
    await redis.expire(key, REGISTRATION_TTL_S);
  }
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
      const registration = parseRegistration(value);
      if (registration) found.push(registration);
    }
  }
  return found;
}

/** A registration as stored: its key, its raw text, what it says and its TTL. */
export interface StoredRegistration {
  key: string;
  raw: string;
  registration: Registration;
  /** The key's TTL in ms (`PTTL`): -1 when it has none. */
  ttlMs: number;
}

/** Every registration with its key, raw text and TTL: one round trip per scanned batch. */
export async function listStoredRegistrations(redis: Redis): Promise<StoredRegistration[]> {
  const found: StoredRegistration[] = [];
  for await (const keys of redis.scanStream({ match: WORKER_KEY_PATTERN, count: 200 })) {
    if ((keys as string[]).length === 0) continue;
    const batch = redis.multi();
    for (const key of keys as string[]) batch.get(key).pttl(key);
    const replies = (await batch.exec()) ?? [];
    (keys as string[]).forEach((key, index) => {
      const raw = replies[index * 2]?.[1] as string | null;
      const registration = parseRegistration(raw);
      if (raw !== null && registration) {
        found.push({ key, raw, registration, ttlMs: Number(replies[index * 2 + 1]?.[1]) });
      }
    });
  }
  return found;
}

function parseRegistration(value: string | null): Registration | undefined {
  if (value === null) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined; // Not ours to read; left alone.
  }
}
