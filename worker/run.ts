/** One worker process: a BullMQ Worker per queue, each with its queue's processor; heartbeats to the supervisor, drain on request. */

import type { Job } from "bullmq";
import { settlesWithin } from "../async/mod.ts";
import type { Config } from "../config/config.ts";
import { STOP_GRACE_MS } from "../jobs/external/persistent.ts";
import { log } from "../log/log.ts";
import { metaKey, type Worker } from "../redis/bullmq_internals.ts";
import { connectRedis } from "../redis/connection.ts";
import { createBullmqProcessor } from "./bullmq_processor.ts";
import { type AckedJob, createCompletionAcks } from "./completion_acks.ts";
import { watchConnection } from "./connection_watch.ts";
import { listenForCommands } from "./control.ts";
import { createDrain } from "./drain.ts";
import { createInFlight } from "./in_flight.ts";
import { createLlmProcessors } from "./llm_processor.ts";
import { lockOptions } from "./lock_options.ts";
import { loadPriceTable } from "../economics/prices.ts";
import { openQueueProcessor, type QueueProcessor } from "./queue_processor.ts";
import { startRegistration } from "./registration.ts";
import { type CountsFile, openCountsFile } from "../protocol/counts_file.ts";
import { emptyStats } from "../protocol/stats.ts";
import { JOB_RATE_KEEP_MINUTES } from "../state/job_rate_retention.ts";
import { recordFinished } from "./job_stats.ts";
import { createReporter, type Tally } from "./reporter.ts";
import { SafeWorker } from "./safe_worker.ts";
import { bullmqTelemetry } from "../telemetry/tracing.ts";

/** Who this worker process is and how it was started. */
export interface WorkerOptions {
  name: string;
  /** Started by the supervisor: events go to stdout, stdin EOF means the supervisor is gone, SIGINT is the supervisor's to handle. */
  supervised: boolean;
  hostname: string;
  /** Environment of LLM subprocesses (the Claude CLI). */
  subprocessEnv: Record<string, string>;
  /** Environment of external processors (`jobs/external/env.ts`): never the worker's secrets. */
  processorEnv: Record<string, string>;
  /** Where the supervisor reads this worker's counts if it dies (see `protocol/counts_file.ts`). */
  countsFile?: string;
  /** Most LLM calls this process makes at once from each LLM queue: its share of `LLM_MAX_IN_FLIGHT`. */
  llmSlots?: number[];
  /** Takes no LLM jobs until the supervisor says `take-llm-jobs` (it replaces a worker). */
  llmHeld?: boolean;
}

const logger = log("worker");

/** How long each closing step of a stopping worker may take. */
const CLOSE_STEP_MS = 500;
/** Exit status of a worker whose Redis refused its credentials: restarting cannot help. */
export const EXIT_REDIS_AUTH = 3;

/** Runs until drained; resolves with the process exit code. */
export async function runWorker(config: Config, options: WorkerOptions): Promise<number> {
  const { name } = options;
  const startedAt = new Date().toISOString();
  const tally: Tally = { processed: 0, failed: 0, givenBack: 0 };
  const inFlight = createInFlight();
  const stats = emptyStats();
  const countsFile = options.countsFile === undefined
    ? undefined
    : openCountsFileOrWarn(options.countsFile);
  const reporter = createReporter({
    supervised: options.supervised,
    inFlight,
    tally,
    stats,
    countsFile,
    recycleAtJobs: config.maxJobsPerWorker,
  });
  reporter.start();

  const redis = connectRedis(config.redisUrl, { blocking: true, name });
  const connection = watchConnection(redis, config.redisUrl, logger, (reason) => {
    logger.error("Redis refused the credentials in REDIS_URL ({reason}); exiting", { reason });
    Deno.exit(EXIT_REDIS_AUTH);
  });
  const isRedisDown = () => connection.down;
  const acks = createCompletionAcks(redis, {
    replicas: config.redisWaitReplicas,
    timeoutMs: config.redisWaitTimeoutMs,
    logger,
  });

  const workers: Worker[] = [];
  // The supervisor read the price table at start, so a bad LLM_PRICES never gets this far.
  const prices = await loadPriceTable(config.llmPrices);
  const llm = createLlmProcessors({
    config,
    prices,
    redis,
    logger,
    tally,
    stats,
    subprocessEnv: options.subprocessEnv,
    llmSlots: options.llmSlots,
    held: options.llmHeld === true,
    isRedisDown,
    isDraining: () => drain.started,
    closeStepMs: CLOSE_STEP_MS,
    onSlotsApplied: (slots, seq) => reporter.emit({ event: "llm-slots", slots, seq }),
  });
  const processors: QueueProcessor[] = [];
  /** A try that failed: in the worker's counts and, when BullMQ names its job, its queue's figures. */
  const countFailedTry = (job: Job | undefined): void => {
    tally.failed++;
    reporter.countsChanged();
    if (job) recordFinished(stats, job.queueName, job, "failed");
  };
  const context = { redis, prefix: config.prefix, tally, logger, inFlight, countFailedTry };
  // One way for every kind of queue: its processor says how many jobs at once, through which
  // gate (the LLM intake), and runs each try.
  for (const queue of config.queues) {
    const processor = openQueueProcessor(
      queue,
      config.queueProcessors[queue],
      config,
      llm.open,
      options.processorEnv,
    );
    processors.push(processor);
    const worker = new SafeWorker(queue, createBullmqProcessor(queue, context, processor.runTry), {
      connection: redis,
      prefix: config.prefix,
      concurrency: processor.concurrency,
      ...lockOptions(config),
      // Jobs completed and failed per minute, for the dashboard (docs/dashboard.md#charts).
      metrics: { maxDataPoints: JOB_RATE_KEEP_MINUTES },
      name,
      autorun: processor.intake?.opens(queue) ?? true,
      // While tracing: BullMQ's consumer span per try, continuing the producer's trace.
      ...bullmqTelemetry(),
    });
    const acked = (job: Job): AckedJob => ({
      queue,
      id: String(job.id),
      key: metaKey(config.prefix, queue),
    });
    worker.on("active", (job: Job) => acks.started(acked(job)));
    worker.on("completed", (job: Job) => {
      acks.completed(acked(job));
      tally.processed++;
      reporter.countsChanged();
      recordFinished(stats, queue, job, "completed");
    });
    worker.on("failed", (job: Job | undefined, error: Error) => {
      if (job) acks.finished(acked(job));
      countFailedTry(job);
      logger.warn("job {id} on {queue} failed: {error}", {
        id: job?.id,
        queue,
        error: error.message,
      });
    });
    // Without a listener an error event would crash the process; reconnects are logged by the watch.
    worker.on("error", (error: Error) => {
      if (!connection.down) logger.warn("worker error: {error}", { error: error.message });
    });
    workers.push(worker);
    processor.intake?.add(worker);
  }

  reporter.workersMade(workers.map((worker) => worker.id));

  const registration = startRegistration(redis, () => ({
    name,
    hostname: options.hostname,
    pid: Deno.pid,
    queues: config.queues,
    started_at: startedAt,
    heartbeat_at: new Date().toISOString(),
    active_jobs: inFlight.size,
    processed: tally.processed,
    failed: tally.failed,
  }), isRedisDown);

  const drain = createDrain({
    drainTimeoutMs: config.drainTimeoutMs,
    inFlight,
    reporter,
    logger,
    closeWorkers: () => Promise.all(workers.map((worker) => worker.close())),
    async closeRest() {
      // A persistent processor gets its stdin closed and STOP_GRACE_MS to exit, then is killed;
      // the LLM queues' result queues and provider clients get CLOSE_STEP_MS each.
      await settlesWithin(
        Promise.all(processors.map((processor) => processor.close())),
        STOP_GRACE_MS + CLOSE_STEP_MS,
      );
      await settlesWithin(registration.stop(), CLOSE_STEP_MS);
      // The last completions' WAIT, so a missing acknowledgement is logged (within the step).
      await settlesWithin(acks.idle(), CLOSE_STEP_MS);
      redis.disconnect();
      reporter.stop();
      countsFile?.close();
      reporter.emit({ event: "stopped", givenBack: tally.givenBack });
      logger.info("stopped: {processed} processed, {failed} failed, {givenBack} given back", {
        ...tally,
      });
    },
  });
  listenForCommands(options.supervised, drain, {
    takeLlmJobs: () => {
      if (!drain.started) llm.release();
    },
    setLlmSlots: (slots, seq) => {
      if (!drain.started) llm.setSlots(slots, seq);
    },
  });

  Promise.all(workers.map((worker) => worker.waitUntilReady())).then(() => {
    if (drain.started) return;
    void registration.refresh();
    // The BullMQ Worker ids: the prefix of this process's lock tokens (`<id>:<n>`).
    logger.info("ready: queues {queues}, concurrency {concurrency}, BullMQ workers {workers}", {
      queues: config.queues,
      concurrency: config.concurrency,
      workers: workers.map((worker) => worker.id),
    });
    reporter.emit({ event: "ready", pid: Deno.pid, queues: config.queues });
  }).catch((error) => logger.error("could not start: {error}", { error: String(error) }));

  await drain.done;
  return 0;
}

/** The counts file, or `undefined` (counts then go in an event per job) with a warning. */
function openCountsFileOrWarn(path: string): CountsFile | undefined {
  try {
    return openCountsFile(path);
  } catch (error) {
    logger.warn("cannot write the counts file {path} ({error}); counts go with each job's event", {
      path,
      error: String(error),
    });
    return undefined;
  }
}
