/**
 * The function BullMQ calls with each job of a queue: track the job, run a try of it with the
 * queue's processor, give it back when marked so, hand any other failure on.
 */

import type { Job } from "bullmq";
import { DelayedError, WaitingError } from "bullmq/errors";
import { inJobContext } from "../log/log.ts";
import { type FailureContext, handleFailure } from "./failure.ts";
import { giveBackJob } from "./give_back.ts";
import type { InFlight } from "./in_flight.ts";
import type { RunTry, TryFailure } from "./queue_processor.ts";
import { assertSound } from "./safe_worker.ts";

/** What the BullMQ processor of any queue needs, shared by every queue of the process. */
export interface BullmqProcessorContext extends FailureContext {
  inFlight: InFlight;
}

/**
 * The function BullMQ calls with each job of `queue`: the job is in flight (in the heartbeats
 * to the supervisor) while `runTry` runs; data that is not JSON fails at once; a job marked for give
 * back (drain deadline, stop) goes back to its queue; any other failure goes to `handleFailure`.
 */
export function createBullmqProcessor(
  queue: string,
  context: BullmqProcessorContext,
  runTry: RunTry,
) {
  const { inFlight, tally } = context;
  // Every log line of a try, its failure's and its give-back's included, names the job and queue.
  return (job: Job, token?: string) =>
    inJobContext({ job: String(job.id), queue }, async () => {
      const entry = inFlight.add(queue, String(job.id), token ?? "0");
      const failure: TryFailure = {};
      try {
        await assertSound(job);
        return await runTry(job, entry, failure);
      } catch (error) {
        if (error instanceof WaitingError || error instanceof DelayedError) throw error;
        if (entry.giveBack) return await giveBackJob(job, entry.token, tally);
        return await handleFailure(context, job, entry.token, error, failure.llm);
      } finally {
        inFlight.remove(entry);
      }
    });
}
