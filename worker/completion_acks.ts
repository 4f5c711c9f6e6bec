/** `REDIS_WAIT_REPLICAS` for job completions: a `WAIT` after each, at most one at a time per connection, each covering every completion before it. */

import type { Logger } from "@logtape/logtape";
import type { Redis } from "ioredis";
import type { RedisClient } from "../redis/connection.ts";
import {
  connectionMarkOf,
  type ReplicaWaitOptions,
  serverConnectionOf,
  waitForReplicas,
} from "../redis/wait_replicas.ts";

/** A job as the acknowledgements know it: its queue, its id, a key in its queue's slot. */
export interface AckedJob {
  queue: string;
  id: string;
  /** A key of the job's queue (its `meta`): the slot, on a Cluster, whose master `WAIT`s. */
  key: string;
}

/** A completion waiting for its `WAIT`, with the connection mark taken when its job started. */
interface Pending extends AckedJob {
  mark: unknown;
}

/** What became of the completions of one `WAIT`. */
export interface AckOutcome {
  acknowledged: number;
  unacknowledged: AckedJob[];
  /** Why they were not acknowledged, when some were not. */
  reason?: string;
}

/**
 * Acknowledgements of job completions by `options.replicas` replicas. `started(job)` marks the
 * connection when a job starts; `completed(job)`, once BullMQ has written the completion, queues
 * it for the next `WAIT` on the connection that wrote it. One `WAIT` at a time per connection
 * (it blocks the worker's connection while it waits), covering every completion queued before
 * it: a completion costs a share of one round trip to the replicas, not one each. A completion
 * whose job's connection was replaced since it started (a failover) is never counted
 * acknowledged. A completion not acknowledged is logged: a failover now would lose it, and the
 * job would run again. BullMQ's completion itself cannot wait: it is written before.
 */
export function createCompletionAcks(
  redis: RedisClient,
  options: ReplicaWaitOptions & { logger: Logger; onOutcome?: (outcome: AckOutcome) => void },
) {
  const marks = new Map<string, unknown>();
  const queued = new Map<Redis | undefined, Pending[]>();
  const running = new Map<Redis | undefined, Promise<void>>();
  const idOf = (job: AckedJob) => `${job.queue}\u0000${job.id}`;

  const settle = async (connection: Redis | undefined) => {
    for (
      let batch = queued.get(connection);
      batch && batch.length > 0;
      batch = queued.get(connection)
    ) {
      queued.delete(connection);
      // Each completion is checked against its own mark: the `WAIT` covers every write made on
      // the connection so far, but only of the socket it is sent on.
      const byMark = new Map<unknown, Pending[]>();
      for (const job of batch) byMark.set(job.mark, [...(byMark.get(job.mark) ?? []), job]);
      for (const [mark, jobs] of byMark) {
        const result = await waitForReplicas(redis, jobs[0].key, mark, options);
        const outcome: AckOutcome = result.acknowledged
          ? { acknowledged: jobs.length, unacknowledged: [] }
          : {
            acknowledged: 0,
            unacknowledged: jobs.map(({ queue, id, key }) => ({ queue, id, key })),
            reason: result.reason,
          };
        if (!result.acknowledged) {
          options.logger.warn(
            "{count} job completion(s) not acknowledged by {replicas} replica(s): {reason}; a " +
              "failover now would lose them and those jobs would run again: {jobs}",
            {
              count: jobs.length,
              replicas: options.replicas,
              reason: result.reason,
              jobs: jobs.map((job) => `${job.queue}/${job.id}`),
            },
          );
        }
        options.onOutcome?.(outcome);
      }
    }
  };

  return {
    /** Marks the connection a job's writes go through, as it starts. */
    started(job: AckedJob): void {
      if (options.replicas > 0) marks.set(idOf(job), connectionMarkOf(redis, job.key));
    },
    /** Queues a completed job's `WAIT` (a job that failed is forgotten: call `finished`). */
    completed(job: AckedJob): void {
      if (options.replicas <= 0) return;
      const mark = marks.get(idOf(job));
      marks.delete(idOf(job));
      const connection = serverConnectionOf(redis, job.key);
      queued.set(connection, [...(queued.get(connection) ?? []), { ...job, mark }]);
      if (!running.has(connection)) {
        running.set(connection, settle(connection).finally(() => running.delete(connection)));
      }
    },
    /** Forgets a job that ended otherwise (failed, given back). */
    finished(job: AckedJob): void {
      marks.delete(idOf(job));
    },
    /** Resolves when every queued `WAIT` has returned. */
    async idle(): Promise<void> {
      while (running.size > 0) await Promise.all(running.values());
    },
  };
}

/** The acknowledgements of one worker process. */
export type CompletionAcks = ReturnType<typeof createCompletionAcks>;
