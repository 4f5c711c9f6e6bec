/**
 * A queue's processor as the worker runs it, whatever its kind (LLM, recorder, external command):
 * how many of its jobs at once, the gate its intake goes through, one try of a job, the close.
 */

import type { Job } from "bullmq";
import type { Worker } from "bullmq/worker";
import type { Config, ProcessorSpec } from "../config/config.ts";
import { createPerJobProcessor } from "../jobs/external/per_job.ts";
import { createPersistentProcessor } from "../jobs/external/persistent.ts";
import type { JobProcessor } from "../jobs/job_processor.ts";
import { createRecorder } from "../jobs/recorder/recorder.ts";
import { log } from "../log/log.ts";
import { isTracing, withSpan } from "../telemetry/tracing.ts";
import type { LlmFailure } from "./failure.ts";
import type { InFlightJob } from "./in_flight.ts";

/** What a try leaves for the handling of its failure: `llm` once it calls an LLM provider, which may then pause. */
export interface TryFailure {
  llm?: LlmFailure;
}

/** One try of a job: resolves with its return value; sets `failure.llm` when it calls an LLM provider. */
export type RunTry = (job: Job, entry: InFlightJob, failure: TryFailure) => Promise<unknown>;

/** A gate on the intake of some queues' Workers (the LLM intake: provider pauses, `take-llm-jobs`, `llm-slots`). */
export interface IntakeGate {
  /** Whether the Worker of `queue`, made now, is to start at once (`autorun`). */
  opens(queue: string): boolean;
  /** Puts a Worker behind the gate: it pauses, resumes or starts it from then on. */
  add(worker: Worker): void;
}

/** The processor of one queue in one worker process. */
export interface QueueProcessor {
  /** Most jobs of the queue this process runs at once: its BullMQ Worker's `concurrency`. */
  readonly concurrency: number;
  /** The gate its Worker takes jobs through, if any; without one the Worker starts at once. */
  readonly intake?: IntakeGate;
  readonly runTry: RunTry;
  /** Ends whatever it keeps running between jobs; called once, after the last job. */
  close(): Promise<void>;
}

/** Opens the processor of an LLM queue (one whose share here is 0 waits behind its intake gate). */
export type OpenLlmProcessor = (queue: string) => QueueProcessor;

/** The processor of `queue` as `spec` says. */
export function openQueueProcessor(
  queue: string,
  spec: ProcessorSpec,
  config: Config,
  openLlm: OpenLlmProcessor,
  processorEnv: Record<string, string> = {},
): QueueProcessor {
  if (spec.kind === "llm") return openLlm(queue);
  return fromJobProcessor(
    openJobProcessor(queue, spec, config, processorEnv),
    config.concurrency,
  );
}

/** A job processor (the recorder, an external command) as a queue's: no gate, no pause, no result routing. */
export function fromJobProcessor(processor: JobProcessor, concurrency: number): QueueProcessor {
  return {
    concurrency,
    runTry: (job, entry) =>
      processor.run(
        { id: String(job.id), queue: job.queueName, data: job.data, timestamp: job.timestamp },
        entry.controller.signal,
      ),
    close: () => processor.close(),
  };
}

/** The job processor of a queue whose kind is not `llm`: the recorder or an external command. */
export function openJobProcessor(
  queue: string,
  spec: Exclude<ProcessorSpec, { kind: "llm" }>,
  config: Config,
  env: Record<string, string>,
): JobProcessor {
  if (spec.kind === "recorder") return createRecorder({ outputDir: config.outputDir });
  const options = {
    queue,
    command: spec.command,
    timeoutMs: config.processorTimeoutMs,
    env,
    logger: log("processor"),
  };
  const processor = spec.mode === "persistent"
    ? createPersistentProcessor(options)
    : createPerJobProcessor(options);
  if (!isTracing()) return processor;
  // The program's name only: its arguments may carry what a span must not.
  const start = {
    name: "ppr.external_processor",
    attributes: {
      "ppr.queue": queue,
      "process.executable.name": spec.command[0].split("/").at(-1) ?? "",
      "ppr.processor.mode": spec.mode,
    },
  };
  return {
    run: (input, signal) => withSpan(start, () => processor.run(input, signal)),
    close: () => processor.close(),
  };
}
