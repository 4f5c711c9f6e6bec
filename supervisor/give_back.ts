/**
 * Gives the jobs of a dead worker back to their queues, at the front, without spending an
 * attempt; fails instead a job that has now killed its worker `MAX_JOB_CRASHES` times.
 */

import { Job, Queue } from "bullmq";
import { UnrecoverableError } from "bullmq/errors";
import type { Redis } from "ioredis";
import type { HeldJob } from "../protocol/messages.ts";
import { jobCrashesKey } from "../redis/keys.ts";

/** How long a job's record of worker crashes is kept after its last crash. */
const CRASH_RECORD_TTL_S = 7 * 24 * 3600;
/**
 * Jobs that died together are spread over up to this long per crash before they run again, so
 * that a poison pill does not take the same companions down with it each time (and get them
 * failed as poison pills too).
 */
export const CRASH_SPREAD_MS = 2000;

/** What happened to the jobs of a dead worker. */
export interface LostJobsOutcome {
  givenBack: string[];
  /** Jobs failed as poison pills: their worker died under them `maxCrashes` times. */
  failed: string[];
  /** Jobs the worker took after its last heartbeat (it died first): among the two above. */
  unreported: string[];
}

/**
 * Returns the supervisor's tool for a dead worker's jobs. BullMQ checks each job's lock token,
 * so a job another worker has since taken is left alone; `attemptsMade` does not change.
 */
export function createJobGiver(
  redis: Redis,
  options: { prefix: string; queues: string[]; maxCrashes: number },
) {
  const { prefix } = options;
  const queues = new Map<string, Queue>();
  const queueOf = (name: string) => {
    let queue = queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: redis, prefix });
      queue.on("error", () => {});
      queues.set(name, queue);
    }
    return queue;
  };

  /**
   * The jobs `worker` held when it died, read from Redis: those in `active` whose
   * `processedBy` is the worker and whose lock is still there, with a token of one of its BullMQ
   * Workers (`workerIds`; none known: it made none, so it held none). The lock's
   * value is the job's token. A job it finished after its last heartbeat is not among them; a
   * job it took after its last heartbeat is. One round trip per queue, however many jobs are
   * active in every container.
   */
  async function jobsHeldBy(worker: string, workerIds: string[]): Promise<HeldJob[]> {
    // BullMQ's lock tokens are `<Worker id>:<n>`: the slot's other process (a replacement, or
    // the old one it replaces) has the same name but Workers of its own.
    const ours = (token: string) => workerIds.some((id) => token.startsWith(`${id}:`));
    const found: HeldJob[] = [];
    for (const queue of options.queues) {
      const ids = await redis.lrange(`${prefix}:${queue}:active`, 0, -1);
      if (ids.length === 0) continue;
      const pipeline = redis.pipeline();
      for (const id of ids) {
        pipeline.hget(`${prefix}:${queue}:${id}`, "pb").get(`${prefix}:${queue}:${id}:lock`);
      }
      const replies = (await pipeline.exec()) ?? [];
      ids.forEach((id, index) => {
        const processedBy = replies[index * 2]?.[1];
        const token = replies[index * 2 + 1]?.[1];
        if (processedBy === worker && typeof token === "string" && ours(token)) {
          found.push({ queue, id, token });
        }
      });
    }
    return found;
  }

  return {
    /**
     * Handles the jobs of `worker`, which died of `cause` (`signal SIGKILL`, `code 1`, `hung`):
     * those Redis says it held; `reported` (its last heartbeat's) only tells which of them it
     * never reported. Each job's crash is counted in
     * Redis (so across containers); at `maxCrashes` the job fails with the list of causes.
     * Else a job the worker ran alone goes back to the front of its queue; jobs that died
     * together wait a random moment of up to `CRASH_SPREAD_MS` × their crashes, apart.
     */
    async recover(
      worker: string,
      reported: HeldJob[],
      cause: string,
      workerIds: string[],
    ): Promise<LostJobsOutcome> {
      const all = await jobsHeldBy(worker, workerIds);
      const outcome: LostJobsOutcome = {
        givenBack: [],
        failed: [],
        unreported: all
          .filter((job) => !reported.some((each) => each.queue === job.queue && each.id === job.id))
          .map((job) => job.id),
      };
      for (const lost of all) {
        const job = await Job.fromId(queueOf(lost.queue), lost.id);
        if (!job) continue;
        const key = jobCrashesKey(prefix, lost.queue, lost.id);
        const [[, crashes]] = (await redis.multi().rpush(key, cause).expire(
          key,
          CRASH_RECORD_TTL_S,
        ).exec())! as [[Error | null, number]];
        try {
          if (crashes >= options.maxCrashes) {
            const causes = await redis.lrange(key, 0, -1);
            await job.moveToFailed(
              new UnrecoverableError(
                `worker crashed ${crashes} times while running this job: ${causes.join(", ")}`,
              ),
              lost.token,
            );
            outcome.failed.push(lost.id);
          } else if (all.length > 1) {
            const spreadMs = Math.round(Math.random() * CRASH_SPREAD_MS * crashes);
            await job.moveToDelayed(Date.now() + spreadMs, lost.token);
            outcome.givenBack.push(lost.id);
          } else {
            await job.moveToWait(lost.token);
            outcome.givenBack.push(lost.id);
          }
        } catch {
          // Lock gone or job finished: nothing to give back; its crash stays counted.
        }
      }
      return outcome;
    },
    async close(): Promise<void> {
      await Promise.allSettled([...queues.values()].map((queue) => queue.close()));
    },
  };
}
