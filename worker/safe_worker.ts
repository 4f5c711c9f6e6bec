/** A BullMQ Worker that fails a job whose data is not JSON at once, instead of leaving it stuck in `active`. */

import type { Job, JobJson, Worker as TypedWorker } from "bullmq";
import { UnrecoverableError } from "bullmq/errors";
import { Worker } from "bullmq/worker";

// Imported by path (the package index loads far more than a worker needs), whose JavaScript
// carries no types: the index's declaration of the same class supplies them.
const BullWorker = Worker as unknown as typeof TypedWorker;

/** Where the reason goes in the stand-in data of a job whose own data could not be parsed. */
const UNPARSABLE = "__ppr_unparsable_data__";

/**
 * BullMQ parses a job's data while taking it; data that is not JSON throws there, outside any
 * processor, and the job stays in `active` until the stalled-job check, again and again. This
 * Worker hands the processor stand-in data instead, which `assertParsable` turns into a failure.
 */
export class SafeWorker extends BullWorker {
  protected override createJob(data: JobJson, jobId: string): Job {
    try {
      return super.createJob(data, jobId);
    } catch (error) {
      const reason = `job data is not valid JSON (${(error as Error).message}): ${
        String(data.data ?? "").slice(0, 100)
      }`;
      return super.createJob({ ...data, data: JSON.stringify({ [UNPARSABLE]: reason }) }, jobId);
    }
  }
}

/** Throws `UnrecoverableError` (no retry) for the stand-in data of a job that was not JSON. */
export function assertParsable(data: unknown): void {
  if (typeof data === "object" && data !== null && UNPARSABLE in data) {
    throw new UnrecoverableError(String((data as Record<string, unknown>)[UNPARSABLE]));
  }
}
