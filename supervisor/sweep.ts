/**
 * The start-up claim of a hostname: refuses it while live workers of another supervisor use it,
 * and removes the worker registrations that no live worker owns.
 */

import type { Redis } from "ioredis";
import { delay } from "../async/mod.ts";
import { isWorkerOf } from "../protocol/worker_name.ts";
import { workerKey } from "../redis/keys.ts";
import {
  listRegistrations,
  type Registration,
  REGISTRATION_REFRESH_MS,
  STALE_AFTER_MS,
} from "../redis/registrations.ts";

/** How often a fresh registration is read again while it is watched. */
const WATCH_POLL_MS = 500;

/** Another supervisor's workers are alive under this hostname: starting would erase them. */
export class HostnameInUseError extends Error {
  override name = "HostnameInUseError";
}

export interface ClaimOptions {
  hostname: string;
  /** @default {Date.now} */
  now?: () => number;
  /** How long to watch a fresh registration for a refresh. @default {2 × REGISTRATION_REFRESH_MS + 1000} */
  watchMs?: number;
  /** A registration of another host older than this is removed. @default {3 × the TTL} */
  maxAgeMs?: number;
}

/**
 * Claims `hostname` for this supervisor's pool and returns the registrations it removed.
 * A registration of this host refreshed within the last two refresh intervals may belong to
 * a live worker of another supervisor with the same hostname: it is watched for its next
 * refresh; if it is refreshed, `HostnameInUseError` names it and nothing is removed. Otherwise
 * every registration of this host (leftovers of an earlier run) is removed, and those of
 * other hosts whose heartbeat is older than `maxAgeMs` (left without a TTL).
 */
export async function claimHostname(redis: Redis, options: ClaimOptions): Promise<string[]> {
  const now = options.now ?? Date.now;
  const maxAgeMs = options.maxAgeMs ?? STALE_AFTER_MS;
  const own = (all: Registration[]) =>
    all.filter((registration) => isWorkerOf(registration.name, options.hostname));
  let registrations = await listRegistrations(redis);
  const fresh = own(registrations).filter((registration) =>
    now() - Date.parse(registration.heartbeat_at) < 2 * REGISTRATION_REFRESH_MS
  );
  if (fresh.length > 0) {
    // Watched until one of them is refreshed, for up to two refresh intervals and a second: a
    // live worker refreshes every interval, even on a busy machine.
    const watchUntil = now() + (options.watchMs ?? 2 * REGISTRATION_REFRESH_MS + 1000);
    let live: Registration[] = [];
    while (live.length === 0 && now() < watchUntil) {
      await delay(WATCH_POLL_MS);
      registrations = await listRegistrations(redis);
      live = own(registrations).filter((registration) =>
        fresh.some((before) =>
          before.name === registration.name && before.heartbeat_at !== registration.heartbeat_at
        )
      );
    }
    if (live.length > 0) {
      const [first] = live;
      throw new HostnameInUseError(
        `${first.name} is registered by a live worker (pid ${first.pid}, started ${first.started_at}): ` +
          `another supervisor runs with the hostname '${options.hostname}'. ` +
          "Give each supervisor its own --hostname (WORKER_HOSTNAME).",
      );
    }
  }
  const stale = registrations.filter((registration) =>
    isWorkerOf(registration.name, options.hostname) ||
    now() - Date.parse(registration.heartbeat_at) > maxAgeMs
  ).map((registration) => registration.name);
  if (stale.length > 0) await redis.del(...stale.map(workerKey));
  return stale;
}
