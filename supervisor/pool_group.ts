/** The pools of one supervisor (`WORKER_POOLS`) as one: started, drained and stopped together, one snapshot for /health. */

import type { PoolSnapshot } from "../health/status.ts";
import { mergeStats } from "../protocol/stats.ts";
import type { Pool } from "./pool.ts";

/** A pool and its name (`undefined`: the one pool without `WORKER_POOLS`). */
export interface NamedPool {
  name: string | undefined;
  pool: Pool;
}

/**
 * One snapshot of several pools: their sizes and restarts added up, any draining or past its
 * restart intensity, each slot marked with its pool's name.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { mergeSnapshots } from "./pool_group.ts";
 *
 * const empty = { size: 1, slots: [], draining: false, intensityExceeded: false, restartsInPeriod: 1 };
 * const merged = mergeSnapshots([{ name: "a", snapshot: empty }, { name: "b", snapshot: { ...empty, size: 2 } }]);
 * assert.equal(merged.size, 3);
 * assert.equal(merged.restartsInPeriod, 2);
 * ```
 */
export function mergeSnapshots(
  pools: { name: string | undefined; snapshot: PoolSnapshot }[],
): PoolSnapshot {
  if (pools.length === 1 && pools[0].name === undefined) return pools[0].snapshot;
  const snapshots = pools.map(({ snapshot }) => snapshot);
  return {
    size: snapshots.reduce((sum, snapshot) => sum + snapshot.size, 0),
    draining: snapshots.some((snapshot) => snapshot.draining),
    intensityExceeded: snapshots.some((snapshot) => snapshot.intensityExceeded),
    restartsInPeriod: snapshots.reduce((sum, snapshot) => sum + snapshot.restartsInPeriod, 0),
    stats: mergeStats(snapshots.map((snapshot) => snapshot.stats)),
    slots: pools.flatMap(({ name, snapshot }) =>
      snapshot.slots.map((slot) => name === undefined ? slot : { ...slot, pool: name })
    ),
  };
}

/** The controls the supervisor's signals use, over every pool at once. */
export function groupPools(pools: NamedPool[]) {
  const each = <T>(act: (pool: Pool) => T) => pools.map(({ pool }) => act(pool));
  return {
    start(): void {
      each((pool) => pool.start());
    },
    async drain(): Promise<void> {
      await Promise.all(each((pool) => pool.drain()));
    },
    async stopNow(): Promise<void> {
      await Promise.all(each((pool) => pool.stopNow()));
    },
    /** One pool after the other, so that the container never has two of them restarting. */
    async rollingRestart(): Promise<void> {
      for (const { pool } of pools) await pool.rollingRestart();
    },
    snapshot(): PoolSnapshot {
      return mergeSnapshots(pools.map(({ name, pool }) => ({ name, snapshot: pool.snapshot() })));
    },
    async stopped(): Promise<void> {
      await Promise.all(each((pool) => pool.stopped()));
    },
  };
}
