/** The `info` command: queue counts and every worker on this Redis, like `rq info`. */

import type { Redis } from "ioredis";
import { delay } from "../async/mod.ts";
import { formatDuration } from "../config/duration.ts";
import { JOB_FIELDS, jobKey, workerNameOfClient } from "../redis/bullmq_internals.ts";
import { listRegistrations, type Registration } from "../redis/registrations.ts";
import { redactUrl } from "../redis/url.ts";
import type { Queue } from "bullmq";
import { forEachQueue, printJson, type RedisTarget, runCommand, withRedis } from "./_util.ts";
import { JOB_STATES, type JobState } from "./options.ts";
import { formatAge, oneLine, table } from "./format.ts";

/** One queue as `info` shows it. */
export interface QueueInfo {
  name: string;
  /** Paused globally (`ppr-worker pause`, BullMQ's `Queue.pause()`). */
  paused: boolean;
  counts: Record<JobState, number>;
}

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

/** One worker as `info` shows it. */
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

/** Everything `info` shows at one moment. */
export interface InfoSnapshot {
  at: string;
  /** The Redis URL, password hidden. */
  redis: string;
  prefix: string;
  queues: QueueInfo[];
  workers: WorkerInfo[];
}

/**
 * The workers to show: every registration, with its current jobs (active jobs it holds) and
 * heartbeat age, then the BullMQ workers that have no registration. With `onlyQueues`, only
 * workers of those queues. Sorted by name.
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

/** `info` as text: the queue table, then the worker table. */
export function renderInfo(snapshot: InfoSnapshot): string {
  const queueRows = [
    ["queue", "status", ...JOB_STATES],
    ...snapshot.queues.map((queue) => [
      queue.name,
      queue.paused ? "paused" : "running",
      ...JOB_STATES.map((state) => String(queue.counts[state])),
    ]),
  ];
  const hosts = new Set(snapshot.workers.map((worker) => worker.hostname ?? "?"));
  const workerRows = [
    ["worker", "host", "pid", "queues", "state", "processed", "failed", "heartbeat", "jobs"],
    ...snapshot.workers.map((worker) => [
      worker.name,
      worker.hostname ?? "-",
      worker.pid === null ? "-" : String(worker.pid),
      worker.queues.join(","),
      worker.state,
      worker.processed === null ? "-" : String(worker.processed),
      worker.failed === null ? "-" : String(worker.failed),
      worker.heartbeat_age_s === null
        ? "(not registered)"
        : `${formatAge(worker.heartbeat_age_s * 1000)} ago`,
      worker.current_jobs.length === 0
        ? "-"
        : oneLine(worker.current_jobs.map((job) => job.id).join(","), 40),
    ]),
  ];
  const workersTitle = `${snapshot.workers.length} worker${
    snapshot.workers.length === 1 ? "" : "s"
  } on ${hosts.size} host${hosts.size === 1 ? "" : "s"}`;
  return [
    `Redis ${snapshot.redis}, prefix ${snapshot.prefix}, at ${snapshot.at}`,
    "",
    snapshot.queues.length === 0
      ? "no queues"
      : table(queueRows, { alignRight: [2, 3, 4, 5, 6, 7] }),
    "",
    snapshot.workers.length === 0 ? "no workers" : workersTitle,
    ...(snapshot.workers.length === 0 ? [] : [table(workerRows, { alignRight: [2, 5, 6] })]),
  ].join("\n");
}

/** What `ppr-worker info` was asked for, from its flags. */
export interface InfoOptions extends RedisTarget {
  /** The queues to show. */
  queues: string[];
  /** Also show every queue a registered worker serves (no `--queue` given). */
  discoverQueues: boolean;
  /** Refresh every this many ms until Ctrl-C; `undefined`: show once. */
  intervalMs?: number;
  json: boolean;
  /** Queues already open for some of the names (the dashboard's): used, not closed. */
  openQueues?: ReadonlyMap<string, Queue>;
}

/** Reads everything `info` shows from Redis. */
export async function readInfo(redis: Redis, options: InfoOptions): Promise<InfoSnapshot> {
  const registrations = await listRegistrations(redis);
  const queueNames = options.discoverQueues
    ? [...new Set([...options.queues, ...registrations.flatMap((r) => r.queues ?? [])])]
    : options.queues;
  const queues: QueueInfo[] = [];
  const activeJobs: ActiveJob[] = [];
  const bullWorkers: BullWorker[] = [];
  await forEachQueue(redis, options, queueNames, async (queue, name) => {
    const counts = await queue.getJobCounts(...JOB_STATES);
    queues.push({
      name,
      paused: await queue.isPaused(),
      counts: Object.fromEntries(
        JOB_STATES.map((state) => [state, counts[state] ?? 0]),
      ) as QueueInfo["counts"],
    });
    // Two fields of each active job, in one round trip (not each whole job with its data).
    const ids = await queue.getRanges(["active"], 0, -1);
    const pipeline = redis.pipeline();
    for (const id of ids) {
      pipeline.hmget(
        jobKey(options.prefix, name, id),
        JOB_FIELDS.processedBy,
        JOB_FIELDS.timestamp,
      );
    }
    const replies = ids.length > 0 ? (await pipeline.exec()) ?? [] : [];
    ids.forEach((id, index) => {
      const [processedBy, timestamp] = (replies[index]?.[1] ?? [null, null]) as (string | null)[];
      // A job whose hash is gone (finished meanwhile) is skipped, as BullMQ's getJobs does.
      if (timestamp === null) return;
      activeJobs.push({ queue: name, id, processedBy: processedBy ?? undefined });
    });
    for (const client of await queue.getWorkers()) {
      bullWorkers.push({ queue: name, name: workerNameOfClient(String(client.rawname ?? "")) });
    }
  }, options.openQueues);
  return {
    at: new Date().toISOString(),
    redis: redactUrl(options.redisUrl),
    prefix: options.prefix,
    queues,
    workers: workerInfos(registrations, activeJobs, bullWorkers, {
      now: Date.now(),
      onlyQueues: options.discoverQueues ? undefined : options.queues,
    }),
  };
}

/** Moves the cursor home and clears the screen: a refresh in place. */
const CLEAR_SCREEN = "\x1b[H\x1b[2J";

/**
 * Shows queue counts and workers once, or with `intervalMs` again and again until Ctrl-C:
 * in place on a terminal, as repeated blocks (or JSON lines) otherwise. Returns the exit code.
 */
export function runInfo(options: InfoOptions): Promise<number> {
  return runCommand("info", () =>
    withRedis(options, "ppr-info", async (redis) => {
      const show = (snapshot: InfoSnapshot, refreshing: boolean) => {
        if (options.json) return printJson(snapshot);
        const text = renderInfo(snapshot);
        if (!refreshing) return console.log(text);
        if (Deno.stdout.isTerminal()) {
          const every = `every ${formatDuration(options.intervalMs!)}, Ctrl-C to stop`;
          console.log(`${CLEAR_SCREEN}${text}\n\n(${every})`);
        } else console.log(`${text}\n`);
      };
      if (options.intervalMs === undefined) {
        show(await readInfo(redis, options), false);
        return 0;
      }
      const stop = new AbortController();
      const onInterrupt = () => stop.abort();
      Deno.addSignalListener("SIGINT", onInterrupt);
      try {
        while (!stop.signal.aborted) {
          try {
            show(await readInfo(redis, options), true);
          } catch (error) {
            // A watch outlives a Redis blip: say so and try again at the next refresh.
            console.error(`ppr-worker info: ${error instanceof Error ? error.message : error}`);
          }
          await delay(options.intervalMs, { signal: stop.signal }).catch(() => {});
        }
        return 0;
      } finally {
        Deno.removeSignalListener("SIGINT", onInterrupt);
      }
    }));
}
