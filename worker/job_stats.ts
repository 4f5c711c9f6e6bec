/** Counts a finished try of a job in the worker's figures: by queue, its duration and its wait. */

import type { Job } from "bullmq";
import { observe, queueStats, type WorkerStats } from "../protocol/stats.ts";

/**
 * Records a try of `job` on `queue` that ended (`completed` or `failed`): the count, how long it
 * ran (from BullMQ's `processedOn` to `finishedOn`, or to now) and how long it waited before
 * (from when it could first run: added, plus its delay).
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
  const couldRunFrom = job.timestamp + (job.opts?.delay ?? 0);
  observe(figures.waitSeconds, Math.max(0, job.processedOn - couldRunFrom) / 1000);
}
