/** The `requeue` command: failed jobs back to waiting with their attempts reset, like `rq requeue`. */

import type { Queue } from "bullmq";
import type { RedisClient } from "../redis/connection.ts";
import { jobCrashesKey } from "../redis/keys.ts";
import { unreadableReason } from "../state/unreadable_jobs.ts";
import {
  EXIT_FAILURE,
  EXIT_USAGE,
  forEachQueue,
  printJson,
  type RedisTarget,
  runCommand,
  withRedis,
} from "./_util.ts";

/** Jobs requeued at once with `--all`. */
const BATCH = 100;

/** A job of one queue. */
export interface QueuedJob {
  queue: string;
  id: string;
}

/** What `requeue` did. */
export interface RequeueReport {
  requeued: QueuedJob[];
  /** Ids asked for that no queue has. */
  not_found: string[];
  /** Jobs asked for by id that are not failed: left as they are. */
  not_failed: (QueuedJob & { state: string })[];
  /** Failed jobs BullMQ refused to move (locked, or gone meanwhile). */
  errors: (QueuedJob & { error: string })[];
  /**
   * Jobs whose data is not JSON, with why: not requeued, since a worker would fail them again at
   * once. Fix their data (or remove them) first.
   */
  unreadable: (QueuedJob & { error: string })[];
}

/**
 * Which jobs the flags select, or the usage error: `--failed` is required (the only kind of
 * job requeue moves), and exactly one of `--id` or `--all`, so a bare `requeue` never moves
 * every failed job by accident.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { requeueSelection } from "./requeue.ts";
 *
 * assert.deepEqual(requeueSelection({ failed: true, ids: ["7"] }), { ok: true, ids: ["7"] });
 * assert.equal(requeueSelection({ failed: true, all: false }).ok, false);
 * ```
 */
export function requeueSelection(
  flags: { failed?: boolean; ids?: string[]; all?: boolean },
): { ok: true; ids: string[] | "all" } | { ok: false; error: string } {
  if (!flags.failed) {
    return { ok: false, error: "say which jobs: --failed (the only state requeue moves)" };
  }
  const ids = flags.ids ?? [];
  if (flags.all && ids.length > 0) return { ok: false, error: "give --id or --all, not both" };
  if (flags.all) return { ok: true, ids: "all" };
  if (ids.length === 0) {
    return { ok: false, error: "give --id ID ... or --all (every failed job of the queue)" };
  }
  return { ok: true, ids };
}

/** `requeue`'s report as text: how many, then every job asked for that was not requeued. */
export function renderRequeue(report: RequeueReport): string {
  const count = report.requeued.length;
  const queues = [...new Set(report.requeued.map((job) => job.queue))];
  const lines = [
    `requeued ${count} failed job${count === 1 ? "" : "s"}${
      queues.length > 0 ? ` of ${queues.join(", ")}` : ""
    } (attempts reset)`,
  ];
  for (const id of report.not_found) lines.push(`  ${id}: not found`);
  for (const { queue, id, state } of report.not_failed) {
    lines.push(`  ${queue} ${id}: not failed (${state}), left as it is`);
  }
  for (const { queue, id, error } of report.errors) {
    lines.push(`  ${queue} ${id}: not requeued: ${error}`);
  }
  for (const { queue, id, error } of report.unreadable) {
    lines.push(`  ${queue} ${id}: unreadable, not requeued: ${error}`);
  }
  return lines.join("\n");
}

/**
 * Moves failed job `id` to waiting with `attemptsMade` and `attemptsStarted` reset (BullMQ's
 * `job.retry("failed", ...)`, which moves nothing that is not in `failed`), and forgets the
 * worker crashes counted against it, so it gets its full tries again. A job whose data is not
 * JSON is reported as unreadable and left where it is. Returns false when `queue` has no such job.
 */
async function requeueOne(
  redis: RedisClient,
  queue: Queue,
  target: RedisTarget,
  id: string,
  report: RequeueReport,
): Promise<boolean> {
  const job = await queue.getJob(id);
  if (!job) return false;
  const unreadable = unreadableReason(job.data);
  if (unreadable !== undefined) {
    report.unreadable.push({ queue: queue.name, id, error: unreadable });
    return true;
  }
  try {
    await job.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true });
    await redis.del(jobCrashesKey(target.prefix, queue.name, id));
    report.requeued.push({ queue: queue.name, id });
  } catch (error) {
    const state = await job.getState();
    if (state !== "failed") report.not_failed.push({ queue: queue.name, id, state });
    else {
      report.errors.push({
        queue: queue.name,
        id,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return true;
}

/** What `ppr-worker requeue` was asked for. */
export interface RequeueOptions extends RedisTarget {
  queues: string[];
  failed: boolean;
  ids?: string[];
  all: boolean;
  json: boolean;
}

/**
 * Requeues the failed jobs named by `ids` (each in the first queue that has it), or with `all`
 * every job of the queues that is failed when it starts (jobs that fail again meanwhile are not
 * taken twice). Exit 0 when every job asked for was requeued, 1 when one was not found, not
 * failed, unreadable (its data is not JSON) or refused, 2 on a usage error.
 */
export function runRequeue(options: RequeueOptions): Promise<number> {
  return runCommand("requeue", async () => {
    const selection = requeueSelection(options);
    if (!selection.ok) {
      console.error(`ppr-worker requeue: ${selection.error}`);
      return EXIT_USAGE;
    }
    const report: RequeueReport = {
      requeued: [],
      not_found: [],
      not_failed: [],
      errors: [],
      unreadable: [],
    };
    await withRedis(options, "ppr-requeue", async (redis) => {
      let wanted = selection.ids === "all" ? [] : [...selection.ids];
      await forEachQueue(redis, options, options.queues, async (queue) => {
        const ids = selection.ids === "all"
          ? await queue.getRanges(["failed"], 0, -1, true)
          : wanted;
        const found = new Set<string>();
        for (let start = 0; start < ids.length; start += BATCH) {
          await Promise.all(
            ids.slice(start, start + BATCH).map(async (id) => {
              if (await requeueOne(redis, queue, options, id, report)) found.add(id);
            }),
          );
        }
        wanted = wanted.filter((id) => !found.has(id));
      });
      report.not_found.push(...wanted);
    });
    if (options.json) printJson(report);
    else console.log(renderRequeue(report));
    const complete = report.not_found.length + report.not_failed.length + report.errors.length +
        report.unreadable.length === 0;
    return complete ? 0 : EXIT_FAILURE;
  });
}
