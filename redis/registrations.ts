/** Worker registrations in Redis: written by each worker, expired by TTL. */

import type { RedisClient } from "./connection.ts";
import { WORKER_KEY_PATTERN, workerKey } from "./keys.ts";
import { readScanned, scanKeys } from "./scan.ts";

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
/** A registration without a TTL whose heartbeat is older than this (3 × the TTL) is stale. */
export const STALE_AFTER_MS = 3 * REGISTRATION_TTL_S * 1000;
/** How often a worker refreshes its registration. */
export const REGISTRATION_REFRESH_MS = 5000;

/**
 * Writes or refreshes a registration with its TTL. While Redis refuses writes that need memory
 * (`maxmemory` reached with `noeviction`: an `OOM` error), only the TTL is renewed (`EXPIRE` needs
 * none): the registration stays, with its last content, so the worker does not vanish from
 * `info` and its hostname stays claimed.
 */
export async function register(redis: RedisClient, registration: Registration): Promise<void> {
  const key = workerKey(registration.name);
  try {
    await redis.set(key, JSON.stringify(registration), "EX", REGISTRATION_TTL_S);
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith("OOM "))) throw error;
    await redis.expire(key, REGISTRATION_TTL_S);
  }
}

/** Removes a registration (a worker that stops cleanly). */
export async function unregister(redis: RedisClient, name: string): Promise<void> {
  await redis.del(workerKey(name));
}

/** Deletes a registration while it is still the one of process `pid` (a process of the same name may have replaced it). */
const UNREGISTER_PID_SCRIPT = `
local stored = redis.call('GET', KEYS[1])
if not stored then return 0 end
local ok, registration = pcall(cjson.decode, stored)
if ok and type(registration) == 'table' and registration.pid == tonumber(ARGV[1]) then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/**
 * Removes the registration of a worker process that died without removing it itself, unless
 * another process of the same name (its replacement) has registered since. `true` when removed.
 */
export async function unregisterDead(
  redis: RedisClient,
  name: string,
  pid: number,
): Promise<boolean> {
  return await redis.eval(UNREGISTER_PID_SCRIPT, 1, workerKey(name), String(pid)) === 1;
}

/**
 * Every registration, read with `SCAN` (never `KEYS`), on every master of a Cluster. Each key
 * is read alone (`GET`, sent together), not with `MGET`: a Cluster spreads them over its slots.
 */
export function listRegistrations(redis: RedisClient): Promise<Registration[]> {
  return readScanned(redis, WORKER_KEY_PATTERN, parseRegistration);
}

/** A registration as stored: its key, its raw text, what it says and its TTL. */
export interface StoredRegistration {
  key: string;
  raw: string;
  registration: Registration;
  /** The key's TTL in ms (`PTTL`): -1 when it has none. */
  ttlMs: number;
}

/**
 * Every registration with its key, raw text and TTL: each key's text and TTL read together
 * (a `MULTI` per key, all sent at once: a Cluster spreads the keys over its slots).
 */
export async function listStoredRegistrations(redis: RedisClient): Promise<StoredRegistration[]> {
  const found: StoredRegistration[] = [];
  for await (const keys of scanKeys(redis, WORKER_KEY_PATTERN)) {
    const replies = await Promise.all(keys.map((key) => redis.multi().get(key).pttl(key).exec()));
    keys.forEach((key, index) => {
      const raw = replies[index]?.[0]?.[1] as string | null | undefined;
      const registration = parseRegistration(raw ?? null);
      if (raw != null && registration) {
        found.push({ key, raw, registration, ttlMs: Number(replies[index]?.[1]?.[1]) });
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

/** What the stale-registration rule says of one registration, and on what evidence. */
export type Staleness =
  | { stale: false; why: "has_ttl" }
  | { stale: false; why: "fresh_heartbeat"; heartbeatAgeMs: number }
  | { stale: true; why: "no_heartbeat" }
  | { stale: true; why: "old_heartbeat"; heartbeatAgeMs: number };

/**
 * The one rule for whether a registration of any host is stale, i.e. no live worker can own
 * it (the start-up sweep and `cleanup` both apply it). A registration with a TTL is never
 * stale: its worker refreshes it, and Redis expires it by Redis's clock at most
 * `REGISTRATION_TTL_S` after the last refresh, whatever the clocks of the hosts say. Only a key
 * left without a TTL (written by hand, by an old version, or `PERSIST`ed) can outlive its
 * worker; it is stale once its heartbeat is older than `maxAgeMs` by the reader's clock `now`,
 * or when it has no readable heartbeat.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { type Registration, staleness } from "./registrations.ts";
 *
 * const registration = { heartbeat_at: "2020-01-01T00:00:00Z" } as Registration;
 * assert.deepEqual(staleness({ registration, ttlMs: 9000 }, Date.now()), {
 *   stale: false,
 *   why: "has_ttl",
 * });
 * assert.equal(staleness({ registration, ttlMs: -1 }, Date.now()).stale, true);
 * ```
 */
export function staleness(
  stored: { registration: Registration; ttlMs: number },
  now: number,
  maxAgeMs: number = STALE_AFTER_MS,
): Staleness {
  if (stored.ttlMs >= 0) return { stale: false, why: "has_ttl" };
  const heartbeat = Date.parse(stored.registration.heartbeat_at);
  if (Number.isNaN(heartbeat)) return { stale: true, why: "no_heartbeat" };
  const heartbeatAgeMs = now - heartbeat;
  return heartbeatAgeMs > maxAgeMs
    ? { stale: true, why: "old_heartbeat", heartbeatAgeMs }
    : { stale: false, why: "fresh_heartbeat", heartbeatAgeMs };
}

/**
 * Deletes a registration only while it is exactly as read and still without a TTL: a worker
 * that refreshed it meanwhile (every refresh sets a TTL) keeps it.
 */
const DELETE_IF_UNCHANGED = `
if redis.call("GET", KEYS[1]) == ARGV[1] and redis.call("PTTL", KEYS[1]) == -1 then
  return redis.call("DEL", KEYS[1])
end
return 0`;

/**
 * Removes a registration that `staleness` found stale, atomically and only while it is still
 * exactly as read and without a TTL. Returns whether it was removed.
 */
export async function removeStale(
  redis: RedisClient,
  stored: StoredRegistration,
): Promise<boolean> {
  return await redis.eval(DELETE_IF_UNCHANGED, 1, stored.key, stored.raw) === 1;
}
