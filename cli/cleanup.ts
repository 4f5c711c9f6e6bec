/** The `cleanup` command: removes the worker registrations no live worker can own, of every host. */

import {
  listStoredRegistrations,
  type Registration,
  STALE_AFTER_MS,
} from "../redis/registrations.ts";
import { printJson, type RedisTarget, runCommand, withRedis } from "./_util.ts";
import { formatAge } from "./format.ts";

/** A registration without a TTL whose heartbeat is older than this is stale: 3 × the TTL. */
export { STALE_AFTER_MS };

/** One registration key as it is in Redis. */
export interface RegistrationEntry {
  registration: Registration;
  /** The key's TTL in ms (`PTTL`): -1 when it has none. */
  ttlMs: number;
}

/** What `cleanup` decided about one registration, and why. */
export interface CleanupDecision {
  name: string;
  hostname: string;
  pid: number;
  heartbeat_at: string;
  stale: boolean;
  reason: string;
}

/**
 * Decides which registrations are stale. A live worker writes its registration with a TTL
 * every few seconds, so one that has a TTL is never stale: Redis removes it by itself at most
 * `REGISTRATION_TTL_S` after its worker's last refresh, and Redis's clock (not this machine's)
 * decides. Only a key left without a TTL (written by hand, by an old version, or `PERSIST`ed)
 * can outlive its worker; it is stale once its heartbeat is older than `maxAgeMs`.
 *
 * @example
 * ```ts
 * const registration = { name: "worker-a-1", heartbeat_at: "2020-01-01T00:00:00Z" } as Registration;
 * decideCleanup([{ registration, ttlMs: -1 }], { now: Date.now() })[0].stale; // true
 * decideCleanup([{ registration, ttlMs: 9000 }], { now: Date.now() })[0].stale; // false
 * ```
 */
export function decideCleanup(
  entries: readonly RegistrationEntry[],
  options: { now: number; maxAgeMs?: number },
): CleanupDecision[] {
  const maxAgeMs = options.maxAgeMs ?? STALE_AFTER_MS;
  return entries.map(({ registration, ttlMs }) => {
    const heartbeat = Date.parse(registration.heartbeat_at);
    const age = Number.isNaN(heartbeat) ? undefined : options.now - heartbeat;
    const decision = {
      name: registration.name,
      hostname: registration.hostname,
      pid: registration.pid,
      heartbeat_at: registration.heartbeat_at,
    };
    if (ttlMs >= 0) {
      return { ...decision, stale: false, reason: "has a TTL: refreshed by a live worker" };
    }
    if (age === undefined) {
      return { ...decision, stale: true, reason: "no TTL and no readable heartbeat" };
    }
    if (age > maxAgeMs) {
      return {
        ...decision,
        stale: true,
        reason: `no TTL, heartbeat ${formatAge(age)} ago (over ${formatAge(maxAgeMs)})`,
      };
    }
    return {
      ...decision,
      stale: false,
      reason: `no TTL, but heartbeat fresh (${formatAge(age)} ago)`,
    };
  });
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

/** `cleanup`'s decisions as text: what was (or would be) removed and why, and how many stay. */
export function renderCleanup(decisions: readonly CleanupDecision[], dryRun: boolean): string {
  const removed = decisions.filter((decision) => decision.stale);
  const kept = decisions.length - removed.length;
  const verb = dryRun ? "would remove" : "removed";
  const lines = [
    `${verb} ${removed.length} stale registration${removed.length === 1 ? "" : "s"}${
      removed.length > 0 ? ":" : ""
    }`,
    ...removed.map((decision) =>
      `  ${decision.name} (host ${decision.hostname}, pid ${decision.pid}): ${decision.reason}`
    ),
    `kept ${kept} registration${kept === 1 ? "" : "s"} of live workers`,
  ];
  return lines.join("\n");
}

/** What `ppr-worker cleanup` was asked for. */
export interface CleanupOptions extends RedisTarget {
  dryRun: boolean;
  json: boolean;
}

/**
 * Removes the stale registrations of every host (see {@link decideCleanup}) and says which;
 * with `dryRun` only says. Exit 0, or 1 when Redis cannot be reached.
 */
export function runCleanup(options: CleanupOptions): Promise<number> {
  return runCommand("cleanup", () =>
    withRedis(options, "ppr-cleanup", async (redis) => {
      const entries = await listStoredRegistrations(redis);
      const decisions = decideCleanup(entries, { now: Date.now() });
      if (!options.dryRun) {
        for (const [index, decision] of decisions.entries()) {
          if (!decision.stale) continue;
          const removed = await redis.eval(
            DELETE_IF_UNCHANGED,
            1,
            entries[index].key,
            entries[index].raw,
          );
          if (removed !== 1) {
            decisions[index] = {
              ...decision,
              stale: false,
              reason: "refreshed by its worker meanwhile",
            };
          }
        }
      }
      if (options.json) {
        printJson({
          dry_run: options.dryRun,
          removed: decisions.filter((decision) => decision.stale),
          kept: decisions.filter((decision) => !decision.stale),
        });
      } else console.log(renderCleanup(decisions, options.dryRun));
      return 0;
    }));
}
