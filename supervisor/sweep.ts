/**
 * The start-up claim of a hostname: refuses it while live workers of another supervisor use it,
 * and removes the worker registrations that no live worker owns.
 */

import type { RedisClient } from "../redis/connection.ts";
import { delay } from "../async/mod.ts";
import { isWorkerOf } from "../protocol/worker_name.ts";
import {
  listStoredRegistrations,
  type Registration,
  REGISTRATION_REFRESH_MS,
  removeStale,
  STALE_AFTER_MS,
  staleness,
  type StoredRegistration,
} from "../redis/registrations.ts";

/** How often a fresh registration is read again while it is watched. */
export const WATCH_POLL_MS = 500;

/** Another supervisor's workers are alive under this hostname: starting would erase them. */
export class HostnameInUseError extends Error {
  override name = "HostnameInUseError";
}

/**
 * The refusal to start as `hostname`, naming a live worker of the other supervisor when one is
 * known (`registration`), else what was seen instead (`seen`).
 */
export function hostnameInUse(
  hostname: string,
  registration?: Registration,
  seen = "its lease in Redis is held and renewed",
): HostnameInUseError {
  const evidence = registration
    ? `${registration.name} is registered by a live worker (pid ${registration.pid}, started ${registration.started_at})`
    : `the hostname '${hostname}' is taken: ${seen}`;
  return new HostnameInUseError(
    `${evidence}: another supervisor runs with the hostname '${hostname}'. ` +
      "Give each supervisor its own --hostname (WORKER_HOSTNAME).",
  );
}

export interface ClaimOptions {
  hostname: string;
  /** @default {Date.now} */
  now?: () => number;
  /** Waits between two reads of a watched registration. @default {delay from async/mod.ts} */
  sleep?: (ms: number) => Promise<void>;
  /** How long to watch a fresh registration for a refresh. @default {2 × REGISTRATION_REFRESH_MS + 1000} */
  watchMs?: number;
  /** A registration of another host without a TTL and a heartbeat older than this is removed. @default {STALE_AFTER_MS} */
  maxAgeMs?: number;
}

/**
 * Claims `hostname` for this supervisor's pool and returns the names of the registrations it
 * removed. A registration of this host refreshed within the last two refresh intervals may
 * belong to a live worker of another supervisor with the same hostname: it is watched for its
 * next refresh; if it is refreshed, `HostnameInUseError` names it and nothing is removed.
 * Otherwise every registration of this host (leftovers of an earlier run) is removed, TTL or
 * not, and those of other hosts that the stale-registration rule (`staleness`) finds stale:
 * without a TTL and with a heartbeat older than `maxAgeMs`. Another host's registration that
 * has a TTL is never removed, whatever this machine's clock says of its heartbeat.
 */
export async function claimHostname(redis: RedisClient, options: ClaimOptions): Promise<string[]> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? delay;
  const maxAgeMs = options.maxAgeMs ?? STALE_AFTER_MS;
  const isOwn = (stored: StoredRegistration) =>
    isWorkerOf(stored.registration.name, options.hostname);
  let registrations = await listStoredRegistrations(redis);
  const fresh = registrations.filter((stored) =>
    isOwn(stored) &&
    now() - Date.parse(stored.registration.heartbeat_at) < 2 * REGISTRATION_REFRESH_MS
  );
  if (fresh.length > 0) {
    // Watched until one of them is refreshed, for up to two refresh intervals and a second: a
    // live worker refreshes every interval, even on a busy machine.
    const watchUntil = now() + (options.watchMs ?? 2 * REGISTRATION_REFRESH_MS + 1000);
    let live: StoredRegistration[] = [];
    while (live.length === 0 && now() < watchUntil) {
      await sleep(WATCH_POLL_MS);
      registrations = await listStoredRegistrations(redis);
      live = registrations.filter((stored) =>
        isOwn(stored) &&
        fresh.some((before) =>
          before.key === stored.key &&
          before.registration.heartbeat_at !== stored.registration.heartbeat_at
        )
      );
    }
    if (live.length > 0) throw hostnameInUse(options.hostname, live[0].registration);
  }
  const removed: string[] = [];
  const own = registrations.filter(isOwn);
  if (own.length > 0) {
    // One DEL per key: a Cluster refuses a DEL of keys in several slots (CROSSSLOT).
    await Promise.all(own.map((stored) => redis.del(stored.key)));
    removed.push(...own.map((stored) => stored.registration.name));
  }
  for (const stored of registrations) {
    if (isOwn(stored) || !staleness(stored, now(), maxAgeMs).stale) continue;
    if (await removeStale(redis, stored)) removed.push(stored.registration.name);
  }
  return removed;
}
