/**
 * The BullMQ processor of one queue: track the job, run it with the queue's processor (LLM:
 * give it back while its provider is paused, route its result), hand failures on.
 */

import type { Job } from "bullmq";
import { DelayedError, WaitingError } from "bullmq/errors";
import type { Config, ProcessorSpec } from "../config/config.ts";
import { createPerJobProcessor } from "../jobs/external/per_job.ts";
import { createPersistentProcessor } from "../jobs/external/persistent.ts";
import { type createLlmRunner, prepareJob } from "../jobs/llm/run.ts";
import type { JobProcessor } from "../jobs/processor.ts";
import { createRecorder } from "../jobs/recorder/recorder.ts";
import type { createResultRouter } from "../jobs/results.ts";
import { inJobContext, log } from "../log/log.ts";
import { type FailureContext, handleFailure, type LlmFailure } from "./failure.ts";
import { giveBackJob } from "./give_back.ts";
import type { InFlight, InFlightJob } from "./in_flight.ts";
import type { PauseWatch } from "./pauses.ts";
import type { Tally } from "./reporter.ts";
import { assertParsable } from "./safe_worker.ts";

/** What the processor of any queue needs, shared by every queue of the process. */
export interface ProcessorContext extends FailureContext {
  inFlight: InFlight;
}

/** What the LLM queues need besides: providers, their pauses, result routing. */
export interface LlmContext {
  config: Config;
  runner: ReturnType<typeof createLlmRunner>;
  results: ReturnType<typeof createResultRouter>;
  pauses: PauseWatch;
}

/** One try of a job: resolves with its return value; sets `failure.llm` when it calls an LLM provider. */
type RunTry = (job: Job, entry: InFlightJob, failure: { llm?: LlmFailure }) => Promise<unknown>;

/**
 * The function BullMQ calls with each job of `queue`: the job is in flight (in the heartbeats
 * to the supervisor) while `runTry` runs; data that is not JSON fails at once; a job marked for give
 * back (drain deadline, stop) goes back to its queue; any other failure goes to `handleFailure`.
 */
export function createProcessor(queue: string, context: ProcessorContext, runTry: RunTry) {
  const { inFlight, tally } = context;
  return async (job: Job, token?: string) => {
    const entry = inFlight.add(queue, String(job.id), token ?? "0");
    const failure: { llm?: LlmFailure } = {};
    try {
      assertParsable(job.data);
      return await inJobContext({ job: String(job.id), queue }, () => runTry(job, entry, failure));
    } catch (error) {
      if (error instanceof WaitingError || error instanceof DelayedError) throw error;
      if (entry.giveBack) return await giveBackJob(job, entry.token, tally);
      return await handleFailure(context, job, entry.token, error, failure.llm);
    } finally {
      inFlight.remove(entry);
    }
  };
}

/** A try of an LLM job: check the payload, respect its provider's pause, call it, route the result. */
export function llmTry(llm: LlmContext, tally: Tally): RunTry {
  const { config, pauses } = llm;
  return async (job, entry, failure) => {
    const prepared = prepareJob(job.data, config);
    const provider = prepared.providerName;
    failure.llm = { provider, pauses, authRetryMs: config.llmProbeIntervalMs };
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
    const result = await llm.runner.run(prepared, entry.controller.signal);
    await llm.results.route(job, result);
    await pauses.succeeded(provider);
    return result;
  };
}

/** A try of a job of any other kind: the queue's processor runs it; no pause, no result routing. */
export function processorTry(processor: JobProcessor): RunTry {
  return (job, entry) =>
    processor.run(
      { id: String(job.id), queue: job.queueName, data: job.data, timestamp: job.timestamp },
      entry.controller.signal,
    );
}

/** The processor of a queue whose kind is not `llm`: the recorder or an external command. */
export function openProcessor(
  queue: string,
  spec: Exclude<ProcessorSpec, { kind: "llm" }>,
  config: Config,
): JobProcessor {
  if (spec.kind === "recorder") return createRecorder({ outputDir: config.outputDir });
  const options = {
    queue,
    command: spec.command,
    timeoutMs: config.processorTimeoutMs,
    logger: log("processor"),
  };
  return spec.mode === "persistent"
    ? createPersistentProcessor(options)
    : createPerJobProcessor(options);
}
