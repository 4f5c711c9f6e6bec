/** Gives a job back: to the front of its queue, untouched (no attempt spent), and tells BullMQ so. */

import type { Job } from "bullmq";
import { WaitingError } from "bullmq/errors";
import type { Tally } from "./reporter.ts";
import { addSpanEvent } from "../telemetry/tracing.ts";

/**
 * Moves `job` from `active` back to `wait` with its lock `token`, counts it,
 * and throws the `WaitingError` BullMQ expects of a processor that did so.
 */
export async function giveBackJob(job: Job, token: string, tally: Tally): Promise<never> {
  await job.moveToWait(token);
  tally.givenBack++;
  addSpanEvent("ppr.given_back");
  throw new WaitingError();
}
