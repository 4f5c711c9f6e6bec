/** Every worker on a Redis as the operator commands and the dashboard read it: registrations, live jobs, BullMQ's own list. */

import type { Queue } from "bullmq";
import type { RedisClient } from "../redis/connection.ts";
import { JOB_FIELDS, jobKey, stateKey, workerNameOfClient } from "../redis/bullmq_internals.ts";
import type { Registration } from "../redis/registrations.ts";
import { forEachQueue } from "./queues.ts";

/** A job in `active`, with the worker that holds it (BullMQ's `processedBy`). */
export interface ActiveJob {
  queue: string;
  id: string;
  processedBy?: string;
}

/** A worker BullMQ knows by its connection (`Queue.getWorkers()`), registered or not. */
export interface BullWorker {
  queue: string;
  name: string;
}

/** One worker at one moment. */
export interface WorkerInfo {
  name: string;
  /** `null` for a BullMQ worker without a ppr-worker registration (another producer's program). */
  hostname: string | null;
  pid: number | null;
  queues: string[];
  state: "idle" | "busy";
  current_jobs: { queue: string; id: string }[];
  processed: number | null;
  failed: number | null;
  started_at: string | null;
  heartbeat_age_s: number | null;
  /** Whether it has a ppr-worker registration (`ppr:worker:<name>`). */
  registered: boolean;
}

/**
 * The workers to show: every registration, with its current jobs (active jobs it holds) and
 * heartbeat age, then the BullMQ workers that have no registration. With `onlyQueues`, only
 * workers of those queues. Sorted by name.
 *
 * @example
 * ```ts
 * workerInfos([], [{ queue: "llm", id: "7", processedBy: "py-1" }], [{ queue: "llm", name: "py-1" }],
 *   { now: 0 })[0].state; // "busy"
 * ```
 */
export function workerInfos(
  registrations: readonly Registration[],
  activeJobs: readonly ActiveJob[],
  bullWorkers: readonly BullWorker[],
  options: { now: number; onlyQueues?: readonly string[] },
): WorkerInfo[] {
  const jobsOf = (name: string) =>
    activeJobs.filter((job) => job.processedBy === name).map(({ queue, id }) => ({ queue, id }));
  const workers: WorkerInfo[] = registrations.map((registration) => {
    const current = jobsOf(registration.name);
    const heartbeat = Date.parse(registration.heartbeat_at);
    return {
      name: registration.name,
      hostname: registration.hostname,
      pid: registration.pid,
      queues: registration.queues ?? [],
      // The active set is live; the registration's active_jobs is up to 5 s old.
      state: current.length > 0 ? "busy" : "idle",
      current_jobs: current,
      processed: registration.processed,
      failed: registration.failed,
      started_at: registration.started_at,
      heartbeat_age_s: Number.isNaN(heartbeat)
        ? null
        : Math.max(0, Math.round((options.now - heartbeat) / 100) / 10),
      registered: true,
    };
  });
  const unregistered = new Map<string, string[]>();
  for (const { queue, name } of bullWorkers) {
    if (workers.some((worker) => worker.name === name)) continue;
    unregistered.set(name, [...new Set([...(unregistered.get(name) ?? []), queue])]);
  }
  for (const [name, queues] of unregistered) {
    const current = jobsOf(name);
    workers.push({
      name,
      hostname: null,
      pid: null,
      queues,
      state: current.length > 0 ? "busy" : "idle",
      current_jobs: current,
      processed: null,
      failed: null,
      started_at: null,
      heartbeat_age_s: null,
      registered: false,
    });
  }
  const only = options.onlyQueues;
  return workers
    .filter((worker) => !only || worker.queues.some((queue) => only.includes(queue)))
    .sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));
}

/**
 * The active jobs of `queue` with the worker holding each: two fields of each job's hash in one
 * round trip (not each whole job with its data). A job whose hash is gone (finished meanwhile)
 * is skipped, as BullMQ's `getJobs` does.
 */
export async function readActiveJobs(
  redis: RedisClient,
  prefix: string,
  queue: string,
): Promise<ActiveJob[]> {
  const ids = await redis.lrange(stateKey(prefix, queue, "active"), 0, -1);
  if (ids.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const id of ids) {
    pipeline.hmget(jobKey(prefix, queue, id), JOB_FIELDS.processedBy, JOB_FIELDS.timestamp);
  }
  const replies = (await pipeline.exec()) ?? [];
  return ids.flatMap((id, index) => {
    const [processedBy, timestamp] = (replies[index]?.[1] ?? [null, null]) as (string | null)[];
    return timestamp === null ? [] : [{ queue, id, processedBy: processedBy ?? undefined }];
  });
}

/**
 * Every worker of `queues`: the registrations given, each with the active jobs it holds, and the
 * BullMQ workers connected to those queues that have none. With `onlyQueues`, only workers of
 * those queues. `open`: queues already open (the dashboard's), used and left open.
 */
export async function readWorkers(
  redis: RedisClient,
  options: {
    prefix: string;
    queues: readonly string[];
    registrations: readonly Registration[];
    onlyQueues?: readonly string[];
    openQueues?: ReadonlyMap<string, Queue>;
    now?: () => number;
  },
): Promise<WorkerInfo[]> {
  const activeJobs: ActiveJob[] = [];
  const bullWorkers: BullWorker[] = [];
  await forEachQueue(redis, options, options.queues, async (queue, name) => {
    activeJobs.push(...await readActiveJobs(redis, options.prefix, name));
    for (const client of await queue.getWorkers()) {
      bullWorkers.push({ queue: name, name: workerNameOfClient(String(client.rawname ?? "")) });
    }
  }, options.openQueues);
  return workerInfos(options.registrations, activeJobs, bullWorkers, {
    now: (options.now ?? Date.now)(),
    onlyQueues: options.onlyQueues,
  });
}
