/** Counts a finished try of a job in the worker's figures: by queue, its duration and its wait. */

import type { Job } from "bullmq";
import { observe, queueStats, type WorkerStats } from "../protocol/stats.ts";

/**
 * Records a try of `job` on `queue` that ended (`completed` or `failed`): the count, how long it
 * ran (from BullMQ's `processedOn` to `finishedOn`, or to now) and, for its first try, how long it
 * waited (from when it could first run: added, plus its delay). A later try's wait is not known:
 * it would count the earlier tries and the backoff between them.
 */
export function recordFinished(
  stats: WorkerStats,
  queue: string,
  job: Job,
  outcome: "completed" | "failed",
): void {
  const figures = queueStats(stats, queue);
  figures[outcome]++;
  if (!job.processedOn) return;
  const endedOn = job.finishedOn ?? Date.now();
  observe(figures.durationSeconds, Math.max(0, endedOn - job.processedOn) / 1000);
  if ((job.attemptsStarted ?? 1) > 1) return;
  const couldRunFrom = job.timestamp + (job.opts?.delay ?? 0);
  observe(figures.waitSeconds, Math.max(0, job.processedOn - couldRunFrom) / 1000);
}
