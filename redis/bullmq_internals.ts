/**
 * What ppr-worker relies on in BullMQ that BullMQ does not promise: its key layout, job hash
 * fields, lock tokens, worker client names and the Worker's `createJob`. Everything of the kind
 * lives here and nowhere else; `bullmq_internals_test.ts` checks each of them against the
 * installed BullMQ (`BULLMQ_VERSION_CHECKED`), so an upgrade that changes one fails loudly.
 */

import type { Queue, Worker as TypedWorker } from "bullmq";
import type { RedisClient } from "./connection.ts";
import { Worker as DistWorker } from "bullmq/worker";

/**
 * The BullMQ version this module was last checked against. The contract test fails when the
 * installed one differs: re-read BullMQ's source for each assumption below, then update it.
 */
export const BULLMQ_VERSION_CHECKED = "6.7.0";

/**
 * BullMQ's `Worker`, imported by its `dist/` path (the package index loads far more than a
 * worker process needs: the flow producer, job schedulers, other backends). That JavaScript
 * carries no types: the index's declaration of the same class supplies them. Subclasses may
 * override `createJob(data, jobId)`, which the Worker calls for each job it takes.
 */
export const Worker = DistWorker as unknown as typeof TypedWorker;
/** A BullMQ `Worker` (the one class, whichever path it is imported by). */
export type Worker = TypedWorker;

/**
 * BullMQ's `Queue` class, loaded by its `dist/` path when first needed (a worker process that
 * routes no results never loads it); typed by the index's declaration. Taken from the module's
 * `default` (its `module.exports`): Deno's loader names the CommonJS exports too, the worker
 * bundle's chunk of that module (scripts/bundle.ts) has only the default.
 */
export async function loadQueueClass(): Promise<typeof Queue> {
  const { default: queueModule } = await import("bullmq/queue");
  return queueModule.Queue as unknown as typeof Queue;
}

/** The hash of one job: `<prefix>:<queue>:<id>`. */
export function jobKey(prefix: string, queue: string, id: string): string {
  return `${prefix}:${queue}:${id}`;
}

/** The lock of a job in `active`: a string key beside its hash whose value is the lock token. */
export function jobLockKey(prefix: string, queue: string, id: string): string {
  return `${jobKey(prefix, queue, id)}:lock`;
}

/** The log lines of a job (`job.log`), a list, oldest first. */
export function jobLogsKey(prefix: string, queue: string, id: string): string {
  return `${jobKey(prefix, queue, id)}:logs`;
}

/** The fields of a job's hash that ppr-worker reads directly (not through a `Job`). */
export const JOB_FIELDS = {
  /** The `name` of the Worker that took the job last (`Job.processedBy`). */
  processedBy: "pb",
  /** Times the job was taken (`Job.attemptsStarted`). */
  attemptsStarted: "ats",
  /** Tries spent (`Job.attemptsMade`). */
  attemptsMade: "atm",
  /** When the job was added, epoch ms: a job hash without it is gone (BullMQ's own test). */
  timestamp: "timestamp",
  /** Why the job failed (`Job.failedReason`). */
  failedReason: "failedReason",
  /** The job's options as stored (short keys), JSON; decoded before `createJob` sees the job. */
  opts: "opts",
  /** The job's data as JSON text (`Job.data`); BullMQ's `Job.fromJSON` throws when it is not JSON. */
  data: "data",
} as const;

/** Where BullMQ keeps the jobs of one state of a queue, and the Redis type of that key. */
export interface StateKey {
  suffix: string;
  type: "list" | "zset";
}

/**
 * The keys of the job states ppr-worker counts directly (`LLEN`/`ZCARD`, no script): the key
 * `<prefix>:<queue>:<suffix>`. The jobs of a paused queue stay in `wait`.
 */
export const STATE_KEYS = {
  waiting: { suffix: "wait", type: "list" },
  prioritized: { suffix: "prioritized", type: "zset" },
  active: { suffix: "active", type: "list" },
  delayed: { suffix: "delayed", type: "zset" },
  completed: { suffix: "completed", type: "zset" },
  failed: { suffix: "failed", type: "zset" },
} as const satisfies Record<string, StateKey>;

/** The key of one job state of `queue` (see {@linkcode STATE_KEYS}). */
export function stateKey(prefix: string, queue: string, state: keyof typeof STATE_KEYS): string {
  return `${prefix}:${queue}:${STATE_KEYS[state].suffix}`;
}

/**
 * The score of a delayed job in `<prefix>:<queue>:delayed` is its due time in epoch ms times
 * 0x1000 plus a counter below 0x1000: the greatest score of a job due by `timestampMs`.
 */
export function delayedScoreDueBy(timestampMs: number): number {
  return (Math.floor(timestampMs) + 1) * 0x1000 - 1;
}

/** A queue's `meta` hash; its field {@linkcode META_PAUSED_FIELD} exists while the queue is paused. */
export function metaKey(prefix: string, queue: string): string {
  return `${prefix}:${queue}:meta`;
}

/** The field of the `meta` hash set while the queue is paused (`Queue.pause()`). */
export const META_PAUSED_FIELD = "paused";

/**
 * Whether `token`, a job's lock token, is one of the BullMQ Workers `workerIds`: a Worker's
 * tokens are `<Worker id>:<n>`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { isTokenOf } from "./bullmq_internals.ts";
 *
 * assert.equal(isTokenOf("8f3c:12", ["8f3c"]), true);
 * assert.equal(isTokenOf("8f3cd:1", ["8f3c"]), false);
 * ```
 */
export function isTokenOf(token: string, workerIds: readonly string[]): boolean {
  return workerIds.some((id) => token.startsWith(`${id}:`));
}

/**
 * The worker name in the Redis client name of a BullMQ Worker's connection, as
 * `Queue.getWorkers()` lists it (`<prefix>:<base64 queue>:w:<name>`); `(unnamed)` for a
 * Worker started without a name.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { workerNameOfClient } from "./bullmq_internals.ts";
 *
 * assert.equal(workerNameOfClient("bull:bGxt:w:worker-web1-1"), "worker-web1-1");
 * assert.equal(workerNameOfClient("bull:bGxt"), "(unnamed)");
 * ```
 */
export function workerNameOfClient(clientName: string): string {
  const marker = clientName.indexOf(":w:");
  return marker < 0 ? "(unnamed)" : clientName.slice(marker + 3);
}

/**
 * The ioredis connection a Worker was given (`connection` in its options): ppr-worker always
 * passes one (BullMQ cannot load ioredis itself under Deno). Not the backend's `client`, a wrapper
 * whose commands differ from ioredis' (its `hset(key, field, value)` takes an object).
 */
export function workerClient(worker: Worker): RedisClient {
  const connection = (worker.opts as { connection?: unknown }).connection;
  if (!connection || typeof (connection as RedisClient).hset !== "function") {
    throw new Error(
      "the Worker was not given an ioredis connection: see redis/bullmq_internals.ts",
    );
  }
  return connection as RedisClient;
}

/** The Worker's methods that take a job and decode its stored record on the way. */
const FETCHING_METHODS = ["moveToActive", "moveToFinished", "moveToDelayed"] as const;

/**
 * Guards the places where a Worker takes its next job: `moveToActive`, and the `moveToFinished` /
 * `moveToDelayed` that fetch the next job as they finish one, all on the Worker's `backend`. BullMQ
 * decodes a taken job's stored options there (`JSON.parse` of the `opts` field), before
 * `createJob`: a record whose `opts` is not JSON throws a `SyntaxError` with the job already in
 * `active` under the Worker's lock, and the Worker, never seeing the job, retries its fetch while
 * the job waits for the stalled-job check, again and again. Guarded, such an error calls
 * `undecodable(error)` (which must fail the job: `undecodableJobs` finds it) and the fetch
 * answers "no next job", so the Worker goes on. Anything else goes through unchanged.
 */
export function guardJobFetch(
  worker: Worker,
  undecodable: (error: SyntaxError) => Promise<void>,
): void {
  const backend = (worker as unknown as { backend: Record<string, unknown> }).backend;
  for (const method of FETCHING_METHODS) {
    const original = backend[method] as (...args: unknown[]) => Promise<unknown>;
    if (typeof original !== "function") {
      throw new Error(`BullMQ's Worker backend has no ${method}: see redis/bullmq_internals.ts`);
    }
    backend[method] = async (...args: unknown[]) => {
      try {
        return await original.apply(backend, args);
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        await undecodable(error);
        // The finishing call did finish its own job; only the next one was not taken.
        return method === "moveToActive" ? [undefined, undefined, 0, 0] : undefined;
      }
    };
  }
}

/** An active job whose stored options cannot be decoded, with its lock token and raw options. */
export interface UndecodableJob {
  id: string;
  token: string;
  rawOpts: string;
  error: string;
}

/**
 * The jobs in `queue`'s `active` list locked by one of `workerIds` whose `opts` field is not
 * JSON. Reads every active job's lock and options: for the rare record that cannot be decoded,
 * never on a hot path.
 */
export async function undecodableJobs(
  redis: RedisClient,
  prefix: string,
  queue: string,
  workerIds: readonly string[],
): Promise<UndecodableJob[]> {
  const ids = await redis.lrange(stateKey(prefix, queue, "active"), 0, -1);
  if (ids.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const id of ids) {
    pipeline.get(jobLockKey(prefix, queue, id)).hget(jobKey(prefix, queue, id), JOB_FIELDS.opts);
  }
  const replies = (await pipeline.exec()) ?? [];
  const found: UndecodableJob[] = [];
  ids.forEach((id, index) => {
    const token = replies[index * 2]?.[1];
    const rawOpts = replies[index * 2 + 1]?.[1];
    if (typeof token !== "string" || !isTokenOf(token, workerIds)) return;
    if (typeof rawOpts !== "string") return;
    try {
      JSON.parse(rawOpts);
    } catch (error) {
      found.push({ id, token, rawOpts, error: (error as Error).message });
    }
  });
  return found;
}
