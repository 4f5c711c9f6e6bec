/**
 * Echo jobs through a real ppr-worker pool while a Redis failover happens (a Sentinel failover,
 * a Cluster master killed): what was lost, what completed twice, how long completions stopped.
 */

import { strict as assert } from "node:assert";
import { Queue, QueueEvents } from "bullmq";
import { delay } from "../async/mod.ts";
import { jobKey } from "../redis/bullmq_internals.ts";
import { connectRedis, type RedisClient } from "../redis/connection.ts";
import { connectionMarkOf, waitForReplicas } from "../redis/wait_replicas.ts";
import { startSupervisor } from "./ppr.ts";
import { waitUntil } from "./wait.ts";

/** What a run through a failover found. */
export interface FailoverFigures {
  /** Jobs whose `add` resolved: the producer was told they were added. */
  added: number;
  /** Adds that failed (the producer was told, so none of them counts as lost). */
  addErrors: number;
  /** Of the added jobs, those a `WAIT` for one replica acknowledged. */
  acknowledged: number;
  /** Added jobs that no longer exist after the failover: writes lost with the old master. */
  lost: string[];
  /** Acknowledged jobs that no longer exist (`WAIT` promises none). */
  lostAcknowledged: string[];
  /** Jobs seen completing more than once while it ran: a completion lost, the job run again. */
  completedTwiceSeen: string[];
  /** Jobs with more than one completion in the surviving event history (BullMQ allows none). */
  completedTwiceSurviving: string[];
  /** Jobs seen starting more than once. */
  ranTwice: string[];
  /** The longest time without a completion in the surviving history, around the fault, in s. */
  gapS: number;
  /** From the fault's start until it said the new master serves, in s. */
  faultS: number;
  /** Jobs completed (surviving history) that were added after the fault: the pool kept working. */
  completedAfterFault: number;
  /** Added jobs completed (in the surviving history). */
  completed: number;
  /** Added jobs that failed for good. */
  failed: string[];
  /** Surviving jobs neither completed nor failed when the run ended (none should be left). */
  unfinished: string[];
  /** Log lines of the pool about completions a replica did not acknowledge. */
  unacknowledgedCompletionLogs: number;
}

/** How a run is made. */
export interface FailoverLoadOptions {
  redisUrl: string;
  prefix: string;
  /** Makes the fault and resolves once a new master serves (each wait in it bounded). */
  fault: () => Promise<void>;
  /** What follows the fault while jobs still come (e.g. the killed server started again). */
  afterFault?: () => Promise<void>;
  /** More environment of the pool (e.g. `REDIS_WAIT_REPLICAS`). */
  poolEnv?: Record<string, string>;
  /** Jobs come this long before the fault. @default {3000} */
  beforeMs?: number;
  /** And this long after it, at least (until a job is added after it, a minute at most). @default {4000} */
  afterMs?: number;
  /** Each producer adds a job this often. @default {25} */
  intervalMs?: number;
  /** Each job's echo latency. @default {40} */
  jobLatencyMs?: number;
  /** Longest wait for the jobs to finish after the run (a job whose completion was lost waits for BullMQ's stalled check). @default {150000} */
  settleTimeoutMs?: number;
  /** Worker processes and jobs each. @default {[2, 4]} */
  pool?: [count: number, concurrency: number];
}

const QUEUE = "llm";

/** One producer: adds a job every `intervalMs` until stopped; with `acked`, WAITs after each. */
function startProducer(
  redisUrl: string,
  prefix: string,
  tag: string,
  options: { intervalMs: number; jobLatencyMs: number; acked: boolean },
) {
  const redis = connectRedis(redisUrl, { name: `ppr-test-producer-${tag}` });
  redis.on("error", () => {});
  const queue = new Queue(QUEUE, { connection: redis, prefix });
  queue.on("error", () => {});
  const slotKey = `${prefix}:${QUEUE}:meta`;
  const added: { id: string; atMs: number; acknowledged: boolean }[] = [];
  let errors = 0;
  let stopped = false;
  let closed: Promise<void> | undefined;
  const done = (async () => {
    for (let index = 0; !stopped; index++) {
      const id = `${tag}-${index}`;
      const since = connectionMarkOf(redis, slotKey);
      try {
        await queue.add(QUEUE, {
          prompt: id,
          provider: { name: "echo", latency_ms: options.jobLatencyMs },
        }, { jobId: id, attempts: 3 });
      } catch {
        errors++;
        await delay(options.intervalMs);
        continue;
      }
      const atMs = Date.now();
      const acknowledged = options.acked &&
        (await waitForReplicas(redis, slotKey, since, { replicas: 1, timeoutMs: 500 }))
          .acknowledged;
      added.push({ id, atMs, acknowledged });
      await delay(options.intervalMs);
    }
  })();
  return {
    added,
    get errors() {
      return errors;
    },
    /** Stops adding and closes the producer's connection (once, however often it is called). */
    stop() {
      stopped = true;
      return closed ??= (async () => {
        await done;
        await queue.close().catch(() => {});
        redis.disconnect();
      })();
    },
  };
}

/** Starts and completions of each job, as they are seen live (through the failover). */
function watchEvents(redisUrl: string, prefix: string) {
  const connection = connectRedis(redisUrl, { blocking: true, name: "ppr-test-events" });
  connection.on("error", () => {});
  const events = new QueueEvents(QUEUE, { connection, prefix });
  events.on("error", () => {});
  const starts = new Map<string, number>();
  const completions = new Map<string, number>();
  events.on("active", ({ jobId }) => starts.set(jobId, (starts.get(jobId) ?? 0) + 1));
  events.on("completed", ({ jobId }) => completions.set(jobId, (completions.get(jobId) ?? 0) + 1));
  return {
    starts,
    completions,
    ready: () => events.waitUntilReady(),
    async close() {
      await events.close().catch(() => {});
      connection.disconnect();
    },
  };
}

/** The completions in the surviving event stream: job id and epoch ms of each. */
async function survivingCompletions(
  redis: RedisClient,
  prefix: string,
): Promise<{ jobId: string; atMs: number }[]> {
  const entries = await redis.xrange(`${prefix}:${QUEUE}:events`, "-", "+");
  const found: { jobId: string; atMs: number }[] = [];
  for (const [id, fields] of entries) {
    const record = new Map<string, string>();
    for (let index = 0; index + 1 < fields.length; index += 2) {
      record.set(fields[index], fields[index + 1]);
    }
    if (record.get("event") === "completed") {
      found.push({ jobId: record.get("jobId")!, atMs: Number(id.split("-")[0]) });
    }
  }
  return found;
}

/** The longest stretch without a time in `times` (sorted) between `fromMs` and `toMs`. */
export function longestGapMs(times: readonly number[], fromMs: number, toMs: number): number {
  const inside = [fromMs, ...times.filter((time) => time > fromMs && time < toMs), toMs];
  let gap = 0;
  for (let index = 1; index < inside.length; index++) {
    gap = Math.max(gap, inside[index] - inside[index - 1]);
  }
  return gap;
}

/**
 * Runs a pool (echo provider) on `redisUrl` with two producers adding jobs, one plain and one
 * that WAITs for a replica after each add; makes the fault, lets jobs come a while longer,
 * waits (bounded) until every surviving job finished, and counts. Every process and connection
 * it opened is closed, whatever happens.
 */
export async function runJobsThroughFailover(
  options: FailoverLoadOptions,
): Promise<FailoverFigures> {
  const {
    redisUrl,
    prefix,
    beforeMs = 3000,
    afterMs = 4000,
    intervalMs = 25,
    jobLatencyMs = 40,
    settleTimeoutMs = 150_000,
    pool = [2, 4],
  } = options;
  await using supervisor = startSupervisor(
    ["--count", String(pool[0]), "--concurrency", String(pool[1])],
    { redisUrl, env: { BULL_PREFIX: prefix, LOG_LEVEL: "warning", ...options.poolEnv } },
  );
  await supervisor.waitForHealth((health) => health.workers_alive === pool[0], "the pool", 60_000);
  const watched = watchEvents(redisUrl, prefix);
  const reader = connectRedis(redisUrl, { blocking: true, name: "ppr-test-reader" });
  reader.on("error", () => {});
  const producers: ReturnType<typeof startProducer>[] = [];
  try {
    await watched.ready();
    const producerOptions = { intervalMs, jobLatencyMs };
    producers.push(startProducer(redisUrl, prefix, "plain", { ...producerOptions, acked: false }));
    producers.push(startProducer(redisUrl, prefix, "acked", { ...producerOptions, acked: true }));
    await delay(beforeMs);
    const faultStartMs = Date.now();
    await options.fault();
    const faultEndMs = Date.now();
    await options.afterFault?.();
    await delay(afterMs);
    // On a loaded machine the producers may find the new master only after `afterMs`: they go on
    // until one has added a job since the fault, or a minute has passed (then none counts below).
    await waitUntil(
      () => producers.some((producer) => producer.added.some((job) => job.atMs > faultEndMs)),
      { what: "a job added after the fault", timeoutMs: 60_000 },
    ).catch(() => {});
    await Promise.all(producers.map((producer) => producer.stop()));
    const endMs = Date.now();

    const added = producers.flatMap((producer) => producer.added);
    // A connection of its own: closing the queue must not close the reader's, still needed below.
    const counting = connectRedis(redisUrl, { blocking: true, name: "ppr-test-counts" });
    counting.on("error", () => {});
    const queue = new Queue(QUEUE, { connection: counting, prefix });
    queue.on("error", () => {});
    try {
      await waitUntil(async () => {
        const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
        return Object.values(counts).every((count) => count === 0);
      }, { what: "every surviving job finished", timeoutMs: settleTimeoutMs, intervalMs: 200 });
    } catch {
      // Counted below as unfinished.
    } finally {
      await queue.close().catch(() => {});
      counting.disconnect();
    }
    const exists = await Promise.all(
      added.map((job) => reader.exists(jobKey(prefix, QUEUE, job.id))),
    );
    const lost = added.filter((_, index) => exists[index] === 0);
    const surviving = await survivingCompletions(reader, prefix);
    const completedIds = new Map<string, number>();
    for (const { jobId } of surviving) completedIds.set(jobId, (completedIds.get(jobId) ?? 0) + 1);
    const failedIds = new Set(await reader.zrange(`${prefix}:${QUEUE}:failed`, 0, -1));
    const unfinished = added.filter((job, index) =>
      exists[index] === 1 && !completedIds.has(job.id) && !failedIds.has(job.id)
    );
    const twice = (counts: Map<string, number>) =>
      [...counts].filter(([, count]) => count > 1).map(([id]) => id);
    return {
      added: added.length,
      addErrors: producers.reduce((sum, producer) => sum + producer.errors, 0),
      acknowledged: added.filter((job) => job.acknowledged).length,
      lost: lost.map((job) => job.id),
      lostAcknowledged: lost.filter((job) => job.acknowledged).map((job) => job.id),
      completedTwiceSeen: twice(watched.completions),
      completedTwiceSurviving: twice(completedIds),
      ranTwice: twice(watched.starts),
      gapS: longestGapMs(
        surviving.map((completion) => completion.atMs).sort((a, b) => a - b),
        faultStartMs - 1000,
        endMs,
      ) / 1000,
      faultS: (faultEndMs - faultStartMs) / 1000,
      completedAfterFault: added.filter((job) => job.atMs > faultEndMs && completedIds.has(job.id))
        .length,
      completed: added.filter((job) => completedIds.has(job.id)).length,
      failed: added.filter((job) => failedIds.has(job.id)).map((job) => job.id),
      unfinished: unfinished.map((job) => job.id),
      unacknowledgedCompletionLogs: supervisor.logs.filter((line) =>
        line.includes("not acknowledged by")
      ).length,
    };
  } finally {
    await Promise.all(producers.map((producer) => producer.stop()));
    await watched.close();
    reader.disconnect();
  }
}

/** The figures as one line for a test's or the chaos suite's output. */
export function formatFigures(name: string, figures: FailoverFigures): string {
  return `${name}: ${figures.added} jobs added (${figures.acknowledged} WAIT-acknowledged, ` +
    `${figures.addErrors} adds failed), ${figures.lost.length} lost ` +
    `(${figures.lostAcknowledged.length} acknowledged), ${figures.completedTwiceSeen.length} ` +
    `seen completing twice, ${figures.ranTwice.length} started twice, ` +
    `${figures.completedTwiceSurviving.length} completed twice in the surviving history; ` +
    `completions stopped ${figures.gapS.toFixed(1)} s (the fault took ${
      figures.faultS.toFixed(1)
    } s); ${figures.unacknowledgedCompletionLogs} log lines of unacknowledged completions`;
}

/**
 * What must hold after a failover with `REDIS_WAIT_REPLICAS`: no WAIT-acknowledged job lost, none
 * completed twice in the surviving history, every surviving job finished and none failed, and
 * jobs added after the fault completed (the pool kept working).
 */
export function assertAcknowledgedSurvived(figures: FailoverFigures): void {
  assert.deepEqual(figures.lostAcknowledged, []);
  assert.deepEqual(figures.completedTwiceSurviving, []);
  assertPoolFinished(figures);
}

/**
 * What must hold after a planned switchover (the master's writes held until its replica has them):
 * no job lost, none seen completing twice, every job finished and none failed, and jobs added after
 * the fault completed.
 */
export function assertNothingLost(figures: FailoverFigures): void {
  assert.deepEqual(figures.lost, []);
  assert.deepEqual(figures.completedTwiceSeen, []);
  assertPoolFinished(figures);
}

/** Every surviving job finished, none failed, and jobs added after the fault completed. */
function assertPoolFinished(figures: FailoverFigures): void {
  assert.deepEqual(figures.unfinished, []);
  assert.deepEqual(figures.failed, []);
  assert.ok(figures.completedAfterFault > 0, "no job added after the failover completed");
}
