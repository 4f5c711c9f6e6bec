/**
 * The name of a pool's worker process, `worker-<hostname>-<n>`, or `worker-<hostname>@<pool>-<n>`
 * in a pool of `WORKER_POOLS` (a hostname has no `@`, so no hostname's names are another's):
 * the contract BullMQ's worker list, Redis and logs show.
 */

/**
 * The name of worker slot `index` (1-based) on `hostname`, of pool `pool` when named.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { workerName } from "./worker_name.ts";
 *
 * assert.equal(workerName("scraper-1", 2), "worker-scraper-1-2");
 * assert.equal(workerName("scraper-1", 2, "recorder"), "worker-scraper-1@recorder-2");
 * ```
 */
export function workerName(hostname: string, index: number, pool?: string): string {
  return pool === undefined ? `worker-${hostname}-${index}` : `worker-${hostname}@${pool}-${index}`;
}

/**
 * Whether `name` is the name of one of `hostname`'s pool slots, in any pool.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { isWorkerOf } from "./worker_name.ts";
 *
 * assert.equal(isWorkerOf("worker-a-3", "a"), true);
 * assert.equal(isWorkerOf("worker-a-b-3", "a"), false);
 * assert.equal(isWorkerOf("worker-a@recorder-1", "a"), true);
 * assert.equal(isWorkerOf("worker-a-b@recorder-1", "a"), false);
 * ```
 */
export function isWorkerOf(name: string, hostname: string): boolean {
  const prefix = `worker-${hostname}`;
  return name.startsWith(prefix) && /^(-|@[^@]+-)\d+$/.test(name.slice(prefix.length));
}

/**
 * The pool of `WORKER_POOLS` a worker's name says it is in; `undefined` for a name of no pool.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { poolOfWorker } from "./worker_name.ts";
 *
 * assert.equal(poolOfWorker("worker-a@recorder-1"), "recorder");
 * assert.equal(poolOfWorker("worker-a-1"), undefined);
 * ```
 */
export function poolOfWorker(name: string): string | undefined {
  return /^worker-[^@]+@([^@]+)-\d+$/.exec(name)?.[1];
}

/**
 * The pools of `WORKER_POOLS` the workers' names show, each with its host and its workers, in
 * order of host and pool.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { poolSizes } from "./worker_name.ts";
 *
 * const workers = ["worker-a@llm-1", "worker-a@llm-2", "worker-a@recorder-1", "worker-b-1"]
 *   .map((name) => ({ name, hostname: name.split(/[-@]/)[1] }));
 * assert.deepEqual(poolSizes(workers), [
 *   { host: "a", pool: "llm", size: 2 },
 *   { host: "a", pool: "recorder", size: 1 },
 * ]);
 * ```
 */
export function poolSizes(
  workers: { name: string; hostname?: string | null }[],
): { host: string; pool: string; size: number }[] {
  const sizes = new Map<string, { host: string; pool: string; size: number }>();
  for (const worker of workers) {
    const pool = poolOfWorker(worker.name);
    if (pool === undefined) continue;
    const host = worker.hostname ?? "?";
    const key = JSON.stringify([host, pool]);
    const entry = sizes.get(key) ?? { host, pool, size: 0 };
    entry.size++;
    sizes.set(key, entry);
  }
  return [...sizes.values()].sort((a, b) =>
    a.host.localeCompare(b.host) || a.pool.localeCompare(b.pool)
  );
}

/**
 * The pools of {@link poolSizes} in words, `host@pool size, ...`; `undefined` when no worker is
 * in a pool.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { poolSizesText } from "./worker_name.ts";
 *
 * assert.equal(poolSizesText([{ name: "worker-a@llm-1", hostname: "a" }]), "a@llm 1");
 * assert.equal(poolSizesText([{ name: "worker-a-1", hostname: "a" }]), undefined);
 * ```
 */
export function poolSizesText(
  workers: { name: string; hostname?: string | null }[],
): string | undefined {
  const pools = poolSizes(workers);
  if (pools.length === 0) return undefined;
  return pools.map(({ host, pool, size }) => `${host}@${pool} ${size}`).join(", ");
}
