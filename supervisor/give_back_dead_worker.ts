/**
 * Gives the jobs of a dead worker process back to their queues without spending an attempt:
 * a lone job to the front of its queue, jobs that died together spread over a random moment;
 * a job that has now killed its worker `maxCrashes` times is failed as a poison pill instead.
 */

import { Job, Queue, type QueueOptions } from "bullmq";
import { UnrecoverableError } from "bullmq/errors";
import type { RedisClient } from "../redis/connection.ts";
import type { HeldJob } from "../protocol/messages.ts";
import { isTokenOf, JOB_FIELDS, jobKey, jobLockKey, stateKey } from "../redis/bullmq_internals.ts";
import { jobCrashesKey } from "../redis/keys.ts";
import { JOB_RATE_KEEP_MINUTES } from "../state/job_rate_retention.ts";

/** How long a job's record of worker crashes is kept after its last crash. */
const CRASH_RECORD_TTL_S = 7 * 24 * 3600;
/**
 * Jobs that died together are spread over up to this long per crash before they run again, so
 * that a poison pill does not take the same companions down with it each time (and get them
 * failed as poison pills too).
 */
export const CRASH_SPREAD_MS = 2000;

/** What becomes of one job of a dead worker. */
export type GiveBackAction =
  /** A poison pill: failed with `UnrecoverableError`, its causes listed. */
  | { action: "fail" }
  /** Back to the front of its queue (`moveToWait`). */
  | { action: "wait" }
  /** To `delayed` for `delayMs` (`moveToDelayed`), apart from the jobs that died with it. */
  | { action: "delay"; delayMs: number };

/**
 * What becomes of a job of a dead worker that has now crashed `crashes` times (this crash
 * counted): at `maxCrashes` it fails; else a job the worker ran alone goes back to the front of
 * its queue, and jobs that died together (`diedTogether`) wait `random` × `CRASH_SPREAD_MS` ×
 * `crashes`, rounded, so that each crash spreads them wider. `random` is in [0, 1).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { decideGiveBack } from "./give_back_dead_worker.ts";
 *
 * const job = { maxCrashes: 3, random: 0.5 };
 * assert.deepEqual(decideGiveBack({ ...job, crashes: 3, diedTogether: true }), { action: "fail" });
 * assert.deepEqual(decideGiveBack({ ...job, crashes: 1, diedTogether: false }), {
 *   action: "wait",
 * });
 * assert.deepEqual(decideGiveBack({ ...job, crashes: 2, diedTogether: true }), {
 *   action: "delay",
 *   delayMs: 2000,
 * });
 * ```
 */
export function decideGiveBack(
  job: { crashes: number; maxCrashes: number; diedTogether: boolean; random: number },
): GiveBackAction {
  if (job.crashes >= job.maxCrashes) return { action: "fail" };
  if (!job.diedTogether) return { action: "wait" };
  return { action: "delay", delayMs: Math.round(job.random * CRASH_SPREAD_MS * job.crashes) };
}

/** What giving back a dead worker's jobs did. */
export interface GiveBackOutcome {
  /** Jobs back in their queues: at the front of `wait`, or in `delayed` for a moment. */
  givenBack: string[];
  /** Jobs failed as poison pills: their worker died under them `maxCrashes` times. */
  failed: string[];
  /** Jobs the worker took after its last heartbeat (it died first): among the two above. */
  unreported: string[];
}

/** Where a dead worker's jobs are looked for, and the rules they are given back by. */
export interface DeadWorkerGiveBackOptions {
  /** BullMQ key prefix (`BULL_PREFIX`). */
  prefix: string;
  /** The queues the dead worker served. */
  queues: string[];
  /** `MAX_JOB_CRASHES`: a job whose worker died under it this many times fails. */
  maxCrashes: number;
  /** The time a delayed job's wait starts from. @default {Date.now} */
  now?: () => number;
  /** The source of the spread of jobs that died together, in [0, 1). @default {Math.random} */
  random?: () => number;
}

/**
 * Returns the supervisor's give-back of a dead worker's jobs. BullMQ checks each job's lock
 * token, so a job another worker has since taken is left alone; `attemptsMade` does not change.
 */
export function createDeadWorkerGiveBack(redis: RedisClient, options: DeadWorkerGiveBackOptions) {
  const { prefix } = options;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const queues = new Map<string, Queue>();
  const queueOf = (name: string) => {
    let queue = queues.get(name);
    if (!queue) {
      // BullMQ counts a job's move to failed in the queue's metrics (the dashboard's jobs per
      // minute) when the object that moves it has `metrics`, as every worker's does; a Queue's
      // options have no such field in BullMQ's types, but its move reads it all the same.
      const metrics = { maxDataPoints: JOB_RATE_KEEP_MINUTES };
      queue = new Queue(name, { connection: redis, prefix, metrics } as QueueOptions);
      queue.on("error", () => {});
      queues.set(name, queue);
    }
    return queue;
  };

  /**
   * The jobs `worker` held when it died, read from Redis: those in `active` whose
   * `processedBy` is the worker and whose lock is still there, with a token of one of its BullMQ
   * Workers (`workerIds`; none known: it made none, so it held none). The lock's value is the
   * job's token. A job it finished after its last heartbeat is not among them; a job it took
   * after its last heartbeat is. One round trip per queue, however many jobs are active in
   * every container.
   */
  async function jobsHeldBy(worker: string, workerIds: string[]): Promise<HeldJob[]> {
    const found: HeldJob[] = [];
    for (const queue of options.queues) {
      const ids = await redis.lrange(stateKey(prefix, queue, "active"), 0, -1);
      if (ids.length === 0) continue;
      const pipeline = redis.pipeline();
      for (const id of ids) {
        pipeline.hget(jobKey(prefix, queue, id), JOB_FIELDS.processedBy)
          .get(jobLockKey(prefix, queue, id));
      }
      const replies = (await pipeline.exec()) ?? [];
      ids.forEach((id, index) => {
        const processedBy = replies[index * 2]?.[1];
        const token = replies[index * 2 + 1]?.[1];
        // The slot's other process (a replacement, or the old one it replaces) has the same
        // name but BullMQ Workers of its own: their tokens are not this process's.
        if (processedBy === worker && typeof token === "string" && isTokenOf(token, workerIds)) {
          found.push({ queue, id, token });
        }
      });
    }
    return found;
  }

  /** Counts this crash of a job in Redis (so across containers); returns its crashes so far. */
  async function countCrash(queue: string, id: string, cause: string): Promise<number> {
    const key = jobCrashesKey(prefix, queue, id);
    const [[, crashes]] = (await redis.multi().rpush(key, cause).expire(key, CRASH_RECORD_TTL_S)
      .exec())! as [[Error | null, number]];
    return crashes;
  }

  return {
    /**
     * Gives back the jobs of `worker`, which died of `cause` (`signal SIGKILL`, `code 1`,
     * `hung`): those Redis says it held; `reported` (its last heartbeat's) only tells which of
     * them it never reported. Each job's crash is counted, and `decideGiveBack` says what
     * becomes of it.
     */
    async giveBackJobsOf(
      worker: string,
      reported: HeldJob[],
      cause: string,
      workerIds: string[],
    ): Promise<GiveBackOutcome> {
      const held = await jobsHeldBy(worker, workerIds);
      const outcome: GiveBackOutcome = {
        givenBack: [],
        failed: [],
        unreported: held
          .filter((job) => !reported.some((each) => each.queue === job.queue && each.id === job.id))
          .map((job) => job.id),
      };
      for (const lost of held) {
        const job = await Job.fromId(queueOf(lost.queue), lost.id);
        if (!job) continue;
        const crashes = await countCrash(lost.queue, lost.id, cause);
        const decision = decideGiveBack({
          crashes,
          maxCrashes: options.maxCrashes,
          diedTogether: held.length > 1,
          random: random(),
        });
        try {
          if (decision.action === "fail") {
            const causes = await redis.lrange(jobCrashesKey(prefix, lost.queue, lost.id), 0, -1);
            await job.moveToFailed(
              new UnrecoverableError(
                `worker crashed ${crashes} times while running this job: ${causes.join(", ")}`,
              ),
              lost.token,
            );
            outcome.failed.push(lost.id);
          } else if (decision.action === "delay") {
            await job.moveToDelayed(now() + decision.delayMs, lost.token);
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

/** The supervisor's give-back of dead workers' jobs. */
export type DeadWorkerGiveBack = ReturnType<typeof createDeadWorkerGiveBack>;
