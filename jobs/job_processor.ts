/**
 * The shape of a job processor other than the LLM one (the recorder, external commands): run one
 * job, close at the end. The worker runs it as a queue's processor like the LLM one, which gives
 * jobs back and pauses providers (`worker/queue_processor.ts`, `worker/llm_processor.ts`).
 */

/** What a processor is told about the job it runs. */
export interface JobInput {
  /** BullMQ's job id. */
  id: string;
  queue: string;
  /** The job's data, parsed from JSON. */
  data: unknown;
  /** When the job was added to its queue, in ms since the epoch (BullMQ's `timestamp`). */
  timestamp: number;
}

/**
 * Runs the jobs of one queue in one worker process. `run` resolves with the job's return
 * value; it rejects with BullMQ's `UnrecoverableError` when the job can never succeed (no
 * retry), with any other error when a retry may help; when `signal` aborts (a drain deadline,
 * a stop) it gives up at once and rejects with the signal's reason. `close` ends whatever the
 * processor keeps running between jobs; it is called once, after the last job.
 */
export interface JobProcessor {
  run(job: JobInput, signal: AbortSignal): Promise<unknown>;
  close(): Promise<void>;
}
