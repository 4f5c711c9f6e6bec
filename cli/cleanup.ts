/** The `cleanup` command: removes the worker registrations no live worker can own, of every host. */

import {
  listStoredRegistrations,
  type Registration,
  removeStale,
  STALE_AFTER_MS,
  staleness,
} from "../redis/registrations.ts";
import { printJson, type RedisTarget, runCommand, withRedis } from "./_util.ts";
import { formatAge } from "../text/format.ts";

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
 * Decides which registrations are stale by the rule of `staleness` (redis/registrations.ts),
 * the one the supervisor's start-up sweep applies too: one that has a TTL never is; one
 * without a TTL is once its heartbeat is older than `maxAgeMs`, or unreadable.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { decideCleanup } from "./cleanup.ts";
 * import type { Registration } from "../redis/registrations.ts";
 *
 * const registration = { name: "worker-a-1", heartbeat_at: "2020-01-01T00:00:00Z" } as Registration;
 * const now = Date.now();
 * assert.equal(decideCleanup([{ registration, ttlMs: -1 }], { now })[0].stale, true);
 * assert.equal(decideCleanup([{ registration, ttlMs: 9000 }], { now })[0].stale, false);
 * ```
 */
export function decideCleanup(
  entries: readonly RegistrationEntry[],
  options: { now: number; maxAgeMs?: number },
): CleanupDecision[] {
  const maxAgeMs = options.maxAgeMs ?? STALE_AFTER_MS;
  return entries.map((entry) => {
    const { registration } = entry;
    const decision = {
      name: registration.name,
      hostname: registration.hostname,
      pid: registration.pid,
      heartbeat_at: registration.heartbeat_at,
    };
    const verdict = staleness(entry, options.now, maxAgeMs);
    switch (verdict.why) {
      case "has_ttl":
        return { ...decision, stale: false, reason: "has a TTL: refreshed by a live worker" };
      case "no_heartbeat":
        return { ...decision, stale: true, reason: "no TTL and no readable heartbeat" };
      case "old_heartbeat":
        return {
          ...decision,
          stale: true,
          reason: `no TTL, heartbeat ${formatAge(verdict.heartbeatAgeMs)} ago (over ${
            formatAge(maxAgeMs)
          })`,
        };
      case "fresh_heartbeat":
        return {
          ...decision,
          stale: false,
          reason: `no TTL, but heartbeat fresh (${formatAge(verdict.heartbeatAgeMs)} ago)`,
        };
    }
  });
}

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
          if (!await removeStale(redis, entries[index])) {
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
