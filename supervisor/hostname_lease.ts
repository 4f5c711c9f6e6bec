/**
 * One supervisor per hostname, claimed atomically: a lease in Redis (`SET NX PX`), kept by the
 * holder's refreshes and released when it stops. Two supervisors started at the same moment with
 * the same hostname cannot both pass a check-then-act on registrations; only one `SET NX` wins.
 */

import type { RedisClient } from "../redis/connection.ts";
import { delay } from "../async/mod.ts";
import { hostnameLeaseKey } from "../redis/keys.ts";
import { isWorkerOf } from "../protocol/worker_name.ts";
import { listRegistrations } from "../redis/registrations.ts";
import { hostnameInUse } from "./sweep.ts";

/** How long a lease outlives its holder's last refresh (a supervisor killed with kill -9). */
export const HOSTNAME_LEASE_MS = 10_000;
/** How often the holder refreshes its lease. */
export const LEASE_REFRESH_MS = 3_000;
/** How often a supervisor waiting for a lease tries again. */
const LEASE_POLL_MS = 500;

/** Renews the lease's TTL while it is still this holder's; 1 when renewed, 0 when lost. */
const REFRESH_SCRIPT =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
/** Deletes the lease while it is still this holder's. */
const RELEASE_SCRIPT =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/** A held lease. */
export interface HostnameLease {
  /** Renews it; `false` when another supervisor holds it now (this one's had expired). */
  refresh(): Promise<boolean>;
  /** Gives it up, if still held. */
  release(): Promise<void>;
}

/** What taking a lease needs besides the connection. */
export interface LeaseOptions {
  hostname: string;
  /** What identifies this supervisor in the lease (unique per process). */
  owner: string;
  /** @default {HOSTNAME_LEASE_MS} */
  leaseMs?: number;
  /** @default {Date.now} */
  now?: () => number;
  /** @default {delay from async/mod.ts} */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Takes the lease of `hostname`. When another supervisor holds it, waits: a lease left by a dead
 * supervisor expires within `leaseMs` and is then taken; a lease whose TTL is renewed meanwhile
 * belongs to a live supervisor: `HostnameInUseError`, nothing taken.
 */
export async function takeHostnameLease(
  redis: RedisClient,
  options: LeaseOptions,
): Promise<HostnameLease> {
  const { hostname, owner } = options;
  const leaseMs = options.leaseMs ?? HOSTNAME_LEASE_MS;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? delay;
  const key = hostnameLeaseKey(hostname);
  const giveUpAt = now() + leaseMs + 1000;
  let lastTtl = Number.POSITIVE_INFINITY;
  for (;;) {
    if (await redis.set(key, owner, "PX", leaseMs, "NX") === "OK") {
      return {
        refresh: async () => await redis.eval(REFRESH_SCRIPT, 1, key, owner, leaseMs) === 1,
        release: async () => void await redis.eval(RELEASE_SCRIPT, 1, key, owner),
      };
    }
    const ttl = await redis.pttl(key);
    if (ttl > lastTtl || now() >= giveUpAt) {
      // Named by one of its workers where they are registered already, as the refusal always was.
      const theirs = (await listRegistrations(redis)).find((registration) =>
        isWorkerOf(registration.name, hostname)
      );
      throw hostnameInUse(hostname, theirs, `its lease (${key}) is held and renewed`);
    }
    if (ttl > 0) lastTtl = ttl;
    await sleep(LEASE_POLL_MS);
  }
}
