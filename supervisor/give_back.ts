/** Gives the jobs a dead worker held back to their queue, at the front, without spending an attempt. */

import { Job, Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { HeldJob } from "../protocol/messages.ts";

/**
 * Returns a function that gives held jobs back: BullMQ's `moveToWait`, from
 * `active` to the front of `wait`. BullMQ checks each job's lock token, so a
 * job another worker has since taken is left alone; `attemptsMade` does not change.
 */
export function createJobGiver(redis: Redis, prefix: string) {
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
    /** Returns how many jobs went back; the others had finished or were already given back. */
    async giveBack(jobs: HeldJob[]): Promise<number> {
      let givenBack = 0;
      for (const held of jobs) {
        const job = await Job.fromId(queueOf(held.queue), held.id);
        if (!job) continue;
        try {
          await job.moveToWait(held.token);
          givenBack++;
        } catch {
          // Lock gone or job finished: nothing to give back.
        }
      }
      return givenBack;
    },
    async close(): Promise<void> {
      await Promise.allSettled([...queues.values()].map((queue) => queue.close()));
    },
  };
}
