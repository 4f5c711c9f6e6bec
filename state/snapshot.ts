/** Everything the `info` command and the dashboard show of a Redis at one moment, read in one place. */

import type { Queue } from "bullmq";
import type { RedisClient } from "../redis/connection.ts";
import { listRegistrations } from "../redis/registrations.ts";
import { type AutoscaleRecord, listAutoscaleRecords } from "../redis/autoscale_records.ts";

export type { AutoscaleRecord };
import { redactUrl } from "../redis/url.ts";
import { type QueueInfo, readQueues } from "./queues.ts";
import { readWorkers, type WorkerInfo } from "./workers.ts";
import { type BudgetSettings, readFleetSpend, type Spend } from "./spend.ts";

/** Queues and workers at one moment. */
export interface Snapshot {
  /** When it was read, ISO. */
  at: string;
  /** The Redis URL, password hidden. */
  redis: string;
  prefix: string;
  queues: QueueInfo[];
  workers: WorkerInfo[];
  /** Every host's autoscaling pools: range, size, and the last decision with its reason. */
  autoscalers: AutoscaleRecord[];
  /** What the fleet spent on LLM calls, and its budgets; when the reader asked (`budgets`). */
  spend?: Spend;
}

/** What to read. */
export interface SnapshotOptions {
  redisUrl: string;
  /** BullMQ key prefix (`BULL_PREFIX`). */
  prefix: string;
  /** The queues to show. */
  queues: readonly string[];
  /**
   * Also show every queue a registered worker serves, and every worker whatever its queues;
   * otherwise only the workers of `queues`.
   */
  discoverQueues: boolean;
  /** Queues already open for some of the names (the dashboard's): used, not closed. */
  openQueues?: ReadonlyMap<string, Queue>;
  /** Also read the fleet's LLM spend, and these budgets with what is left of them. */
  budgets?: BudgetSettings;
}

/**
 * Reads the queues (counts by state, paused) and every worker (registrations, the jobs each
 * holds, BullMQ workers without a registration) from Redis. Rejects when Redis does.
 *
 * @example
 * ```ts
 * import type { Redis } from "ioredis";
 * import { readSnapshot } from "./snapshot.ts";
 *
 * // Needs a Redis server, so it is a function: `deno test --doc` type-checks it, never calls it.
 * async function workerCount(redis: Redis): Promise<number> {
 *   const snapshot = await readSnapshot(redis, {
 *     redisUrl: "redis://127.0.0.1:6379",
 *     prefix: "bull",
 *     queues: ["llm"],
 *     discoverQueues: true,
 *   });
 *   return snapshot.workers.length;
 * }
 * ```
 */
export async function readSnapshot(
  redis: RedisClient,
  options: SnapshotOptions,
): Promise<Snapshot> {
  const registrations = await listRegistrations(redis);
  const names = options.discoverQueues
    ? [...new Set([...options.queues, ...registrations.flatMap((r) => r.queues ?? [])])]
    : [...options.queues];
  const [queues, workers, autoscalers, spend] = await Promise.all([
    readQueues(redis, options.prefix, names),
    readWorkers(redis, {
      prefix: options.prefix,
      queues: names,
      registrations,
      onlyQueues: options.discoverQueues ? undefined : options.queues,
      openQueues: options.openQueues,
    }),
    listAutoscaleRecords(redis),
    options.budgets ? readFleetSpend(redis, options.budgets) : undefined,
  ]);
  return {
    at: new Date().toISOString(),
    redis: redactUrl(options.redisUrl),
    prefix: options.prefix,
    queues,
    workers,
    autoscalers,
    ...(spend ? { spend } : {}),
  };
}
