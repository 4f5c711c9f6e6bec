/** Queues as the operator commands, the dashboard and the health server read them: counts by state, paused or not. */

import type { Queue } from "bullmq";
import type { RedisClient } from "../redis/connection.ts";
import { META_PAUSED_FIELD, metaKey, STATE_KEYS, stateKey } from "../redis/bullmq_internals.ts";
import { JOB_STATES, type JobState } from "./job_states.ts";
import { ReadingQueue } from "./reading_queue.ts";

export { JOB_STATES, type JobState };

/** One queue at one moment. */
export interface QueueInfo {
  name: string;
  /** Paused globally (`ppr-worker pause`, BullMQ's `Queue.pause()`). */
  paused: boolean;
  counts: Record<JobState, number>;
}

/**
 * The counts of each of `names` by state and whether it is paused, in one pipelined round trip:
 * the length of each state's list or sorted set (`LLEN`/`ZCARD`, never a scan) and the paused
 * field of its `meta` hash. The same figures as BullMQ's `Queue.getJobCounts()` and
 * `Queue.isPaused()`, without a `Queue` or a script. Rejects when Redis does.
 *
 * @example
 * ```ts
 * import type { Redis } from "ioredis";
 * import { readQueues } from "./queues.ts";
 *
 * // Needs a Redis server, so it is a function: `deno test --doc` type-checks it, never calls it.
 * async function waitingInLlm(redis: Redis): Promise<number> {
 *   const [llm] = await readQueues(redis, "bull", ["llm"]);
 *   return llm.counts.waiting;
 * }
 * ```
 */
export async function readQueues(
  redis: RedisClient,
  prefix: string,
  names: readonly string[],
): Promise<QueueInfo[]> {
  if (names.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const name of names) {
    for (const state of JOB_STATES) {
      const key = stateKey(prefix, name, state);
      if (STATE_KEYS[state].type === "list") pipeline.llen(key);
      else pipeline.zcard(key);
    }
    pipeline.hexists(metaKey(prefix, name), META_PAUSED_FIELD);
  }
  const replies = (await pipeline.exec()) ?? [];
  const failed = replies.find(([error]) => error);
  if (failed) throw failed[0];
  const values = replies.map(([, value]) => Number(value));
  const width = JOB_STATES.length + 1;
  return names.map((name, index) => {
    const row = values.slice(index * width, (index + 1) * width);
    return {
      name,
      paused: row[JOB_STATES.length] === 1,
      counts: Object.fromEntries(
        JOB_STATES.map((state, column) => [state, row[column]]),
      ) as QueueInfo["counts"],
    };
  });
}

/**
 * Runs `body` with a BullMQ `Queue` for each of `names` in turn, on an existing connection: one
 * of `open` when it has the name (left open), else a new {@link ReadingQueue} (a job whose data
 * is not JSON is read with stand-in data), closed afterwards (the connection stays open for the
 * caller).
 *
 * @example
 * ```ts
 * import type { Redis } from "ioredis";
 * import { forEachQueue } from "./queues.ts";
 *
 * // Needs a Redis server, so it is a function: `deno test --doc` type-checks it, never calls it.
 * async function printWorkerCounts(redis: Redis): Promise<void> {
 *   await forEachQueue(redis, { prefix: "bull" }, ["llm"], async (queue) => {
 *     console.log(await queue.getWorkersCount());
 *   });
 * }
 * ```
 */
export async function forEachQueue(
  redis: RedisClient,
  target: { prefix: string },
  names: readonly string[],
  body: (queue: Queue, name: string) => Promise<void>,
  open?: ReadonlyMap<string, Queue>,
): Promise<void> {
  for (const name of names) {
    const kept = open?.get(name);
    const queue = kept ?? new ReadingQueue(name, { connection: redis, prefix: target.prefix });
    if (!kept) queue.on("error", () => {});
    try {
      await body(queue, name);
    } finally {
      if (!kept) await queue.close();
    }
  }
}

/**
 * How many BullMQ Workers serve each of `names`, fleet-wide: the Redis connections named as a
 * Worker of the queue (BullMQ's `Queue.getWorkersCount()`, one `CLIENT LIST`), whichever
 * container or program runs them. `open`: queues already open, used and left open. Rejects when
 * Redis does.
 *
 * @example
 * ```ts
 * import type { Redis } from "ioredis";
 * import { readQueueWorkerCounts } from "./queues.ts";
 *
 * // Needs a Redis server, so it is a function: `deno test --doc` type-checks it, never calls it.
 * async function llmWorkers(redis: Redis): Promise<number> {
 *   const counts = await readQueueWorkerCounts(redis, { prefix: "bull" }, ["llm"]);
 *   return counts.get("llm") ?? 0;
 * }
 * ```
 */
export async function readQueueWorkerCounts(
  redis: RedisClient,
  target: { prefix: string },
  names: readonly string[],
  open?: ReadonlyMap<string, Queue>,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  await forEachQueue(redis, target, names, async (queue, name) => {
    counts.set(name, await queue.getWorkersCount());
  }, open);
  return counts;
}
