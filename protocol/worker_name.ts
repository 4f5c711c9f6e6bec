/** The name of a pool's worker process, `worker-<hostname>-<n>`: the contract BullMQ's worker list, Redis and logs show. */

/**
 * The name of worker slot `index` (1-based) on `hostname`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { workerName } from "./worker_name.ts";
 *
 * assert.equal(workerName("scraper-1", 2), "worker-scraper-1-2");
 * ```
 */
export function workerName(hostname: string, index: number): string {
  return `worker-${hostname}-${index}`;
}

/**
 * Whether `name` is the name of one of `hostname`'s pool slots.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { isWorkerOf } from "./worker_name.ts";
 *
 * assert.equal(isWorkerOf("worker-a-3", "a"), true);
 * assert.equal(isWorkerOf("worker-a-b-3", "a"), false);
 * ```
 */
export function isWorkerOf(name: string, hostname: string): boolean {
  const prefix = workerName(hostname, 0).slice(0, -1);
  return name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length));
}
