/** Jobs completed and failed per minute in each queue, from BullMQ's worker metrics (`metrics:completed`, `metrics:failed`). */

import type { Queue } from "bullmq";
import type { RedisClient } from "../redis/connection.ts";
import { forEachQueue } from "./queues.ts";

/** What the dashboard charts: the last 3 hours, minute by minute. */
export const JOB_RATE_WINDOW_MINUTES = 3 * 60;

const MINUTE_MS = 60_000;

/** What `Queue.getMetrics(state)` returns, as far as the counts go. */
export interface BullmqMetrics {
  /** `count`: every job counted so far; `prevTS`: when the last minute was closed (epoch ms, 0 if never); `prevCount`: `count` then. */
  meta: { count: number; prevTS: number; prevCount: number };
  /** Closed minutes, newest first: `data[i]` is the minute `i + 1` minutes before `prevTS`'s. */
  data: number[];
}

/**
 * The jobs of each minute from `fromMinute` to `toMinute` (minute numbers: epoch ms / 60 000,
 * rounded down), oldest first, from BullMQ's metrics of one state. BullMQ closes a minute when a
 * job ends in a later one, so the jobs since `prevTS` (`count - prevCount`) all ended in
 * `prevTS`'s minute; `data[i]` is the minute `i + 1` before it.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { countsPerMinute } from "./job_rates.ts";
 *
 * // A job ended in minute 100, one in 102, one in 103 (its minute still open).
 * const metrics = { meta: { count: 3, prevTS: 103 * 60_000 + 5, prevCount: 2 }, data: [1, 0, 1] };
 * assert.deepEqual(countsPerMinute(metrics, 99, 104), [0, 1, 0, 1, 1, 0]);
 * ```
 */
export function countsPerMinute(
  metrics: BullmqMetrics,
  fromMinute: number,
  toMinute: number,
): number[] {
  const counts = new Array<number>(Math.max(0, toMinute - fromMinute + 1)).fill(0);
  const { meta, data } = metrics;
  if (!(meta.prevTS > 0)) return counts;
  const add = (minute: number, jobs: number) => {
    if (minute >= fromMinute && minute <= toMinute) counts[minute - fromMinute] += jobs;
  };
  const lastMinute = Math.floor(meta.prevTS / MINUTE_MS);
  add(lastMinute, Math.max(0, meta.count - meta.prevCount));
  data.forEach((jobs, index) => add(lastMinute - 1 - index, jobs));
  return counts;
}

/** One minute of one queue. */
export interface MinuteJobs {
  /** The minute's start, ISO. */
  minute: string;
  completed: number;
  failed: number;
}

/** One queue's jobs per minute over the window. */
export interface QueueJobRates {
  queue: string;
  /** Every minute of the window, oldest first; the last is the current one, still counting. */
  minutes: MinuteJobs[];
  /** The window's sums. */
  completed: number;
  failed: number;
  /** `false` when no worker with metrics on has finished a job of this queue yet (within the kept day). */
  recorded: boolean;
}

/**
 * One queue's rates from its two metrics, for the `windowMinutes` minutes up to `nowMs`'s.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { queueJobRates } from "./job_rates.ts";
 *
 * const none = { meta: { count: 0, prevTS: 0, prevCount: 0 }, data: [] };
 * const one = { meta: { count: 1, prevTS: 60_000, prevCount: 0 }, data: [] };
 * const rates = queueJobRates("llm", { completed: one, failed: none }, 2, 60_000);
 * assert.deepEqual(rates.minutes.map((minute) => minute.completed), [0, 1]);
 * assert.equal(rates.recorded, true);
 * ```
 */
export function queueJobRates(
  queue: string,
  metrics: { completed: BullmqMetrics; failed: BullmqMetrics },
  windowMinutes: number,
  nowMs: number,
): QueueJobRates {
  const toMinute = Math.floor(nowMs / MINUTE_MS);
  const fromMinute = toMinute - windowMinutes + 1;
  const completed = countsPerMinute(metrics.completed, fromMinute, toMinute);
  const failed = countsPerMinute(metrics.failed, fromMinute, toMinute);
  const sum = (counts: number[]) => counts.reduce((total, jobs) => total + jobs, 0);
  return {
    queue,
    minutes: completed.map((jobs, index) => ({
      minute: new Date((fromMinute + index) * MINUTE_MS).toISOString(),
      completed: jobs,
      failed: failed[index],
    })),
    completed: sum(completed),
    failed: sum(failed),
    recorded: metrics.completed.meta.prevTS > 0 || metrics.failed.meta.prevTS > 0,
  };
}

/**
 * Each of `queues`' jobs per minute over the last `windowMinutes` (BullMQ's `getMetrics`: per
 * queue and state one `HMGET` and one `LRANGE` of at most `windowMinutes + 1` numbers), in
 * `queues`' order. Rejects when Redis does.
 *
 * Options: `windowMinutes` (@default {JOB_RATE_WINDOW_MINUTES}, 180), `now` (epoch ms,
 * @default {Date.now()}), `openQueues` (queues already open, used and not closed).
 *
 * @example
 * ```ts
 * import type { Redis } from "ioredis";
 * import { readJobRates } from "./job_rates.ts";
 *
 * // Needs a Redis server, so it is a function: `deno test --doc` type-checks it, never calls it.
 * async function failedLastHours(redis: Redis): Promise<number> {
 *   const [llm] = await readJobRates(redis, { prefix: "bull" }, ["llm"]);
 *   return llm.failed;
 * }
 * ```
 */
export async function readJobRates(
  redis: RedisClient,
  target: { prefix: string },
  queues: readonly string[],
  options: { windowMinutes?: number; now?: number; openQueues?: ReadonlyMap<string, Queue> } = {},
): Promise<QueueJobRates[]> {
  const windowMinutes = options.windowMinutes ?? JOB_RATE_WINDOW_MINUTES;
  const now = options.now ?? Date.now();
  const rates: QueueJobRates[] = [];
  await forEachQueue(redis, target, queues, async (queue, name) => {
    const [completed, failed] = await Promise.all([
      queue.getMetrics("completed", 0, windowMinutes),
      queue.getMetrics("failed", 0, windowMinutes),
    ]);
    rates.push(
      queueJobRates(name, { completed, failed }, windowMinutes, now),
    );
  }, options.openQueues);
  return rates;
}
