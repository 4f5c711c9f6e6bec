/** A BullMQ Worker that fails a job whose data is not JSON at once, instead of leaving it stuck in `active`. */

import type { Job, JobJson } from "bullmq";
import { UnrecoverableError } from "bullmq/errors";
import { Worker } from "../redis/bullmq_internals.ts";
import { unreadableReason, withStandInData } from "../state/unreadable_jobs.ts";

/**
 * BullMQ parses a job's data while taking it; data that is not JSON throws there, outside any
 * processor, and the job stays in `active` until the stalled-job check, again and again. This
 * Worker hands the processor stand-in data instead, which `assertParsable` turns into a failure.
 */
export class SafeWorker extends Worker {
  protected override createJob(data: JobJson, jobId: string): Job {
    try {
      return super.createJob(data, jobId);
    } catch (error) {
      return super.createJob(withStandInData(data, error), jobId);
    }
  }
}

/** Throws `UnrecoverableError` (no retry) for the stand-in data of a job that was not JSON. */
export function assertParsable(data: unknown): void {
  const reason = unreadableReason(data);
  if (reason !== undefined) throw new UnrecoverableError(reason);
}
