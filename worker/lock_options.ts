/** The lock options of this process's BullMQ Workers, from the settings. */

import type { Config } from "../config/config.ts";

/** BullMQ's own names for a Worker's lock options. */
export interface LockOptions {
  /** How long a job's lock lasts; the Worker renews it every quarter of it. */
  lockDuration: number;
  /** How often the Worker looks for jobs whose lock lapsed (one look per interval, fleet-wide). */
  stalledInterval: number;
  /** Stalls a job may have; the next one fails it ("job stalled more than allowable limit"). */
  maxStalledCount: number;
}

/**
 * The Worker options of `LOCK_DURATION`, `STALLED_INTERVAL` and `MAX_JOB_CRASHES`. A stall is
 * a death of the job's whole host (or a partition, or an event loop blocked past the lock): the
 * job fails at its `MAX_JOB_CRASHES`th stall, as it does at its `MAX_JOB_CRASHES`th worker crash
 * that a supervisor saw (the two are counted apart: BullMQ's `stalledCounter` and
 * `ppr:job-crashes:*`).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { lockOptions } from "./lock_options.ts";
 *
 * assert.deepEqual(
 *   lockOptions({ lockDurationMs: 10_000, stalledIntervalMs: 3000, maxJobCrashes: 3 }),
 *   { lockDuration: 10_000, stalledInterval: 3000, maxStalledCount: 2 },
 * );
 * ```
 */
export function lockOptions(
  config: Pick<Config, "lockDurationMs" | "stalledIntervalMs" | "maxJobCrashes">,
): LockOptions {
  return {
    lockDuration: config.lockDurationMs,
    stalledInterval: config.stalledIntervalMs,
    maxStalledCount: config.maxJobCrashes - 1,
  };
}
