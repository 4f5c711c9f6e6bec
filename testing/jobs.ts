/**
 * Jobs for the tests: a producer's queue, waiting for a job to finish, jobs in a given shape
 * (failed ones, and one whose data a buggy producer wrote as text that is not JSON).
 */

import { type Job, Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { JOB_FIELDS, jobKey } from "../redis/bullmq_internals.ts";
import { waitUntil } from "./wait.ts";
import type { RedisServer } from "./redis.ts";

/** A producer's queue `name` on the test's Redis; its connection errors are the test's to see. */
export function producerQueue(redis: RedisServer, name = "llm"): Queue {
  const queue = new Queue(name, { connection: redis.client() });
  queue.on("error", () => {});
  return queue;
}

/** Waits until `job` has completed or failed and returns it as it is then. */
export async function finishedJob(
  queue: Queue,
  job: Job,
  what: string,
  timeoutMs = 30_000,
): Promise<Job> {
  await waitUntil(async () => ["completed", "failed"].includes(await job.getState()), {
    what,
    timeoutMs,
  });
  return (await queue.getJob(job.id!))!;
}

/**
 * How many times each job of `queue` has `event` (`added`, `completed`, `duplicated`: an add
 * refused because the id exists) in BullMQ's event stream, read with `client`: as far as the
 * stream's MAXLEN keeps it.
 */
export async function eventCounts(
  client: Redis,
  queue: Queue,
  event: string,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const [, fields] of await client.xrange(queue.keys.events, "-", "+")) {
    const entry: Record<string, string> = {};
    for (let index = 0; index < fields.length; index += 2) entry[fields[index]] = fields[index + 1];
    if (entry.event === event) counts.set(entry.jobId, (counts.get(entry.jobId) ?? 0) + 1);
  }
  return counts;
}

/**
 * Adds one job per item of `data` to `queue` and fails each (a BullMQ Worker whose processor
 * throws "failed on purpose"); returns their ids in order.
 */
export async function failedJobs(
  redis: Redis,
  queue: string,
  data: readonly Record<string, unknown>[],
  prefix = "bull",
): Promise<string[]> {
  const producer = new Queue(queue, { connection: redis, prefix });
  producer.on("error", () => {});
  const worker = new Worker(queue, () => Promise.reject(new Error("failed on purpose")), {
    connection: redis.duplicate(),
    prefix,
  });
  worker.on("error", () => {});
  try {
    const jobs = await producer.addBulk(data.map((item) => ({ name: queue, data: item })));
    const ids = jobs.map((job) => job.id!);
    await waitUntil(
      async () => {
        const failed = await producer.getRanges(["failed"], 0, -1);
        return ids.every((id) => failed.includes(id)) || undefined;
      },
      { what: `${ids.length} job(s) of ${queue} failed`, timeoutMs: 10_000 },
    );
    return ids;
  } finally {
    await worker.close();
    await producer.close();
  }
}

/** Overwrites job `id`'s data with `text`, not JSON, as a producer with a bug would write it. */
export async function breakJobData(
  redis: Redis,
  queue: string,
  id: string,
  text = "{not json",
  prefix = "bull",
): Promise<void> {
  await redis.hset(jobKey(prefix, queue, id), JOB_FIELDS.data, text);
}
