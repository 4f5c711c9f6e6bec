/** What pools a supervisor runs (`WORKER_POOLS`, else one pool of every queue), as a pure function of the configuration. */

import { type Config, CORE_SETTINGS } from "../config/config.ts";
import type { AutoscaleRange } from "./autoscale.ts";

/** One pool the supervisor runs. */
export interface PoolPlan {
  /** The pool's name (its queue) with `WORKER_POOLS`; `undefined` for the one pool without it. */
  name: string | undefined;
  queues: string[];
  /** Jobs in flight per worker. */
  concurrency: number;
  /** Worker processes it starts with. */
  initialSize: number;
  /** Its autoscaler's range, when it has one. */
  range: AutoscaleRange | undefined;
  /** The most workers it may run: the range's MAX, else what `scale` and SIGTTIN allow. */
  maxWorkers: number;
}

/**
 * The pools of `config`: one per entry of `WORKER_POOLS`, each serving its queue; without it,
 * one unnamed pool of `WORKER_COUNT` (within `WORKER_AUTOSCALE`) serving every queue.
 * `maxWorkers` is the most a container runs.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { planPools } from "./pool_plan.ts";
 *
 * const config = {
 *   pools: [{ queue: "llm", count: 2, range: { min: 2, max: 6 }, concurrency: 4 }, { queue: "recorder", count: 1 }],
 *   queues: ["llm", "recorder"], concurrency: 1, workerCount: 1, autoscale: undefined,
 * };
 * assert.deepEqual(planPools(config, 20).map((plan) => [plan.name, plan.initialSize, plan.maxWorkers, plan.concurrency]), [
 *   ["llm", 2, 6, 4],
 *   ["recorder", 1, 20, 1],
 * ]);
 * ```
 */
export function planPools(
  config: Pick<Config, "pools" | "queues" | "concurrency" | "workerCount" | "autoscale">,
  maxWorkers: number,
): PoolPlan[] {
  if (config.pools === undefined) {
    const range = config.autoscale;
    return [{
      name: undefined,
      queues: config.queues,
      concurrency: config.concurrency,
      initialSize: range
        ? Math.min(range.max, Math.max(range.min, config.workerCount))
        : config.workerCount,
      range,
      maxWorkers: range?.max ?? maxWorkers,
    }];
  }
  return config.pools.map((pool) => ({
    name: pool.queue,
    queues: [pool.queue],
    concurrency: pool.concurrency ?? config.concurrency,
    initialSize: pool.count,
    range: pool.range,
    maxWorkers: pool.range?.max ?? maxWorkers,
  }));
}

/**
 * What a pool's workers get over the supervisor's environment: a named pool's queue and
 * concurrency (the workers read them like any setting); nothing for the one unnamed pool.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { poolWorkerEnv } from "./pool_plan.ts";
 *
 * assert.deepEqual(
 *   poolWorkerEnv({ name: "recorder", queues: ["recorder"], concurrency: 3, initialSize: 1, range: undefined, maxWorkers: 20 }),
 *   { QUEUE_NAME: "recorder", WORKER_CONCURRENCY: "3" },
 * );
 * ```
 */
export function poolWorkerEnv(plan: PoolPlan): Record<string, string> {
  if (plan.name === undefined) return {};
  return {
    [CORE_SETTINGS.queues.env]: plan.queues.join(","),
    [CORE_SETTINGS.concurrency.env]: String(plan.concurrency),
  };
}

/**
 * The words a log line puts before "size" for a pool: `pool ` for the one pool, `pool llm's `
 * for the pool `llm` of `WORKER_POOLS`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { poolSizeOwner } from "./pool_plan.ts";
 *
 * assert.equal(`${poolSizeOwner(undefined)}size 2`, "pool size 2");
 * assert.equal(`${poolSizeOwner("llm")}size 2`, "pool llm's size 2");
 * ```
 */
export function poolSizeOwner(name: string | undefined): string {
  return name === undefined ? "pool " : `pool ${name}'s `;
}
