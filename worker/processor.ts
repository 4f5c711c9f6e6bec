/** The BullMQ processor of one queue: track the job, run it (or give it back while its provider is paused), route the result. */

import type { Job } from "bullmq";
import { DelayedError, WaitingError } from "bullmq/errors";
import type { createResultRouter } from "../jobs/results.ts";
import { type createLlmRunner, prepareJob } from "../jobs/llm/run.ts";
import type { Config } from "../config/config.ts";
import { type FailureContext, handleFailure } from "./failure.ts";
import { giveBackJob } from "./give_back.ts";
import type { InFlight } from "./in_flight.ts";
import type { Reporter } from "./reporter.ts";
import { assertParsable } from "./safe_worker.ts";

/** What the processor of a queue needs, shared by every queue of the process. */
export interface ProcessorContext extends FailureContext {
  config: Config;
  inFlight: InFlight;
  reporter: Reporter;
  runner: ReturnType<typeof createLlmRunner>;
  results: ReturnType<typeof createResultRouter>;
}

/** The function BullMQ calls with each job of `queue`. */
export function createProcessor(queue: string, context: ProcessorContext) {
  const { config, inFlight, reporter, pauses, tally } = context;
  return async (job: Job, token?: string) => {
    const entry = inFlight.add(queue, String(job.id), token ?? "0");
    reporter.jobStarted();
    let provider: string = config.provider;
    try {
      assertParsable(job.data);
      const prepared = prepareJob(job.data, config);
      provider = prepared.providerName;
      const pause = await pauses.pauseOf(provider);
      if (pause && provider === config.provider) {
        // This worker's intake pauses with its provider: the job waits at the front of its queue.
        return await giveBackJob(job, entry.token, tally);
      }
      if (pause) {
        // Another provider's pause: the job waits in `delayed` until it ends, spending no
        // attempt, instead of going back to the front of the queue to be taken again at once.
        await job.moveToDelayed(pause.retry_at, entry.token);
        throw new DelayedError();
      }
      const result = await context.runner.run(prepared, entry.controller.signal);
      await context.results.route(job, result);
      await pauses.succeeded(provider);
      return result;
    } catch (error) {
      if (error instanceof WaitingError || error instanceof DelayedError) throw error;
      if (entry.giveBack) return await giveBackJob(job, entry.token, tally);
      return await handleFailure(context, job, entry.token, provider, error);
    } finally {
      inFlight.remove(entry);
      reporter.countsChanged();
    }
  };
}
