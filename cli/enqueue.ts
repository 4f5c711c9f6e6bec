/** The `enqueue` subcommand: adds LLM jobs like any BullMQ producer would, and optionally waits for them. */

import { type Job, Queue, QueueEvents } from "bullmq";
import { connectRedis } from "../redis/connection.ts";
import { parsePayload } from "../jobs/llm/payload.ts";

/** What `ppr-worker enqueue` was asked to add, from its flags. */
export interface EnqueueOptions {
  redisUrl: string;
  prefix: string;
  queue: string;
  /** The whole job data as JSON; otherwise built from `prompt`, `provider` and `latencyMs`. */
  data?: string;
  prompt?: string;
  provider?: string;
  latencyMs?: number;
  count: number;
  attempts: number;
  wait: boolean;
  /** How long `wait` waits for each job. */
  timeoutMs: number;
}

/** Job options a producer should set: retries with backoff, bounded retention. */
export const DEFAULT_JOB_OPTIONS = {
  backoff: { type: "exponential", delay: 2000 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** Builds the job data, or says what is wrong with it. */
export function jobData(
  options: EnqueueOptions,
): { ok: true; data: unknown } | { ok: false; error: string } {
  let data: unknown;
  if (options.data !== undefined) {
    try {
      data = JSON.parse(options.data);
    } catch (error) {
      return { ok: false, error: `--data is not JSON: ${(error as Error).message}` };
    }
  } else {
    if (options.prompt === undefined) return { ok: false, error: "give --prompt or --data" };
    const provider = {
      ...(options.provider ? { name: options.provider } : {}),
      ...(options.latencyMs !== undefined ? { latency_ms: options.latencyMs } : {}),
    };
    data = { prompt: options.prompt, ...(Object.keys(provider).length > 0 ? { provider } : {}) };
  }
  const checked = parsePayload(data);
  return checked.ok ? { ok: true, data } : { ok: false, error: checked.error };
}

/** Adds the jobs; prints their ids, or with `wait` one JSON line per finished job. Returns the exit code. */
export async function runEnqueue(options: EnqueueOptions): Promise<number> {
  const built = jobData(options);
  if (!built.ok) {
    console.error(`ppr-worker enqueue: ${built.error}`);
    return 2;
  }
  const redis = connectRedis(options.redisUrl, { name: "ppr-enqueue" });
  redis.on("error", () => {});
  const queue = new Queue(options.queue, { connection: redis, prefix: options.prefix });
  let events: QueueEvents | undefined;
  const eventsConnection = options.wait
    ? connectRedis(options.redisUrl, { blocking: true, name: "ppr-enqueue-events" })
    : undefined;
  try {
    if (eventsConnection) {
      events = new QueueEvents(options.queue, {
        connection: eventsConnection,
        prefix: options.prefix,
      });
      await events.waitUntilReady();
    }
    const jobs = await queue.addBulk(
      Array.from({ length: options.count }, () => ({
        name: "llm",
        data: built.data,
        opts: { ...DEFAULT_JOB_OPTIONS, attempts: options.attempts },
      })),
    );
    if (!events) {
      for (const job of jobs) console.log(job.id);
      return 0;
    }
    const finishedEvents = events;
    const outcomes = await Promise.all(jobs.map(async (job: Job) => {
      try {
        const result = await job.waitUntilFinished(finishedEvents, options.timeoutMs);
        console.log(JSON.stringify({ id: job.id, state: "completed", result }));
        return true;
      } catch (error) {
        console.log(
          JSON.stringify({ id: job.id, state: "failed", error: (error as Error).message }),
        );
        return false;
      }
    }));
    return outcomes.every(Boolean) ? 0 : 1;
  } finally {
    await events?.close();
    await queue.close();
    eventsConnection?.disconnect();
    redis.disconnect();
  }
}
