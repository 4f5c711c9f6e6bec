/** A BullMQ Worker that fails a job whose data is not JSON at once, instead of leaving it stuck in `active`. */

import type { Job, JobJson } from "bullmq";
import { UnrecoverableError } from "bullmq/errors";
import { Worker } from "../redis/bullmq_internals.ts";

/** Where the reason goes in the stand-in data of a job whose own data could not be parsed. */
const UNPARSABLE = "__ppr_unparsable_data__";

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
