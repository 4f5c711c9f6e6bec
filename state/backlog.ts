/** The jobs that wait for a worker of this pool: what the autoscaler grows on. */

import type { RedisClient } from "../redis/connection.ts";
import { delayedScoreDueBy, stateKey } from "../redis/bullmq_internals.ts";

/**
 * The jobs of `queues` that a free worker would take now: waiting, prioritized, and delayed
 * ones already due (BullMQ moves those only when a worker asks for a job), in one pipelined
 * round trip. A paused queue's jobs count too: they wait in `wait`, which the pool cannot help.
 *
 * @example
 * ```ts
 * import type { Redis } from "ioredis";
 * import { readBacklog } from "./backlog.ts";
 *
 * // Needs a Redis server, so it is a function: `deno test --doc` type-checks it, never calls it.
 * async function jobsWaiting(redis: Redis): Promise<number> {
 *   return await readBacklog(redis, "bull", ["llm"], Date.now());
 * }
 * ```
 */
export async function readBacklog(
  redis: RedisClient,
  prefix: string,
  queues: readonly string[],
  nowMs: number,
): Promise<number> {
  if (queues.length === 0) return 0;
  const pipeline = redis.pipeline();
  for (const queue of queues) {
    pipeline.llen(stateKey(prefix, queue, "waiting"));
    pipeline.zcard(stateKey(prefix, queue, "prioritized"));
    pipeline.zcount(stateKey(prefix, queue, "delayed"), 0, delayedScoreDueBy(nowMs));
  }
  const replies = (await pipeline.exec()) ?? [];
  const failed = replies.find(([error]) => error);
  if (failed) throw failed[0];
  return replies.reduce((sum, [, value]) => sum + Number(value), 0);
}
