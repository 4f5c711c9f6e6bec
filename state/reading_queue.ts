/** A BullMQ Queue whose job reads survive a job whose data is not JSON: the queue of every reader. */

import { Job, type JobJson, Queue } from "bullmq";
import { withStandInData } from "./unreadable_jobs.ts";

/** BullMQ's `Job`, read with stand-in data when its own data is not JSON (`Job.fromJSON` throws). */
class ReadableJob extends Job {
  static override fromJSON<T = unknown, R = unknown, N extends string = string>(
    queue: Parameters<typeof Job.fromJSON>[0],
    json: JobJson,
    jobId?: string,
  ): Job<T, R, N> {
    try {
      return super.fromJSON<T, R, N>(queue, json, jobId);
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      return super.fromJSON<T, R, N>(queue, withStandInData(json, error), jobId);
    }
  }
}

/**
 * A BullMQ `Queue` whose job reads (`getJob`, `getJobs` and everything built on them, such as
 * bull-board's lists) never throw on a job whose data is not JSON: such a job comes with
 * stand-in data that says why (`unreadableReason` of `unreadable_jobs.ts`), and the other jobs as they are.
 * BullMQ builds each job it reads with the queue's `Job` class, which this queue replaces.
 *
 * @example
 * ```ts
 * import type { Redis } from "ioredis";
 * import { ReadingQueue } from "./reading_queue.ts";
 *
 * // Needs a Redis server, so it is a function: `deno test --doc` type-checks it, never calls it.
 * async function failedJobs(redis: Redis) {
 *   const queue = new ReadingQueue("llm", { connection: redis });
 *   return await queue.getJobs(["failed"]); // every failed job, readable or not
 * }
 * ```
 */
export class ReadingQueue extends Queue {
  protected override get Job(): typeof Job {
    // A subclass without type parameters of its own: the same class to every caller.
    return ReadableJob as unknown as typeof Job;
  }
}
