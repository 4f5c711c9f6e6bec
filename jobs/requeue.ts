/** Puts jobs that a dead worker held back on their queue, at the front, without spending an attempt. */

import { Job, Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { HeldJob } from "../supervisor/protocol.ts";

/**
 * Returns a function that moves held jobs from `active` back to `wait`.
 * BullMQ checks each job's lock token, so a job another worker has since
 * taken is left alone; `attemptsMade` does not change.
 */
export function createRequeuer(redis: Redis, prefix: string) {
  const queues = new Map<string, Queue>();
  const queueOf = (name: string) => {
    let queue = queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: redis, prefix });
      queues.set(name, queue);
    }
    return queue;
  };
  return {
    /** Returns how many jobs went back; the others had finished or were already taken back. */
    async requeue(jobs: HeldJob[]): Promise<number> {
      let requeued = 0;
      for (const held of jobs) {
        const job = await Job.fromId(queueOf(held.queue), held.id);
        if (!job) continue;
        try {
          await job.moveToWait(held.token);
          requeued++;
        } catch {
          // Lock gone or job finished: nothing to put back.
        }
      }
      return requeued;
    },
    async close(): Promise<void> {
      await Promise.allSettled([...queues.values()].map((queue) => queue.close()));
    },
  };
}
