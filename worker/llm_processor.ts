/**
 * The processor of the LLM queues: each queue's share of `LLM_MAX_IN_FLIGHT` as its concurrency,
 * one intake gate for them all (provider pauses, `take-llm-jobs`), and a try that respects its
 * provider's pause, calls it and routes the result.
 */

import type { Logger } from "@logtape/logtape";
import { DelayedError } from "bullmq/errors";
import type { Redis } from "ioredis";
import { settlesWithin } from "../async/mod.ts";
import { type Config, llmQueuesOf } from "../config/config.ts";
import { createLlmRunner, prepareJob } from "../jobs/llm/runner.ts";
import { createResultRouter } from "../jobs/results.ts";
import type { WorkerStats } from "../protocol/stats.ts";
import { giveBackJob } from "./give_back.ts";
import { createLlmIntake } from "./llm_intake.ts";
import { type PauseWatch, startPauseWatch } from "./pauses.ts";
import type { QueueProcessor, RunTry } from "./queue_processor.ts";
import type { Tally } from "./reporter.ts";

/** What the LLM queues of a worker process need from it. */
export interface LlmProcessorsOptions {
  config: Config;
  redis: Redis;
  logger: Logger;
  tally: Tally;
  stats: WorkerStats;
  /** Environment of LLM subprocesses (the Claude CLI). */
  subprocessEnv: Record<string, string>;
  /** Most LLM calls this process makes at once from each LLM queue: its share of `LLM_MAX_IN_FLIGHT`. */
  llmSlots?: number[];
  /** Takes no LLM jobs until `release()` (it replaces a worker). */
  held: boolean;
  isRedisDown(): boolean;
  /** A draining worker neither pauses nor resumes its intake. */
  isDraining(): boolean;
  /** How long each closing step (result queues, provider clients) may take. */
  closeStepMs: number;
}

/** What the LLM queues share: providers, their pauses, result routing. */
interface LlmContext {
  config: Config;
  runner: ReturnType<typeof createLlmRunner>;
  results: ReturnType<typeof createResultRouter>;
  pauses: PauseWatch;
}

/**
 * The LLM processors of one worker process. `open(queue)` gives an LLM queue's processor; the
 * first that takes jobs starts the pause watch and the provider clients, which every LLM queue
 * shares and the first `close()` ends. `release()` opens the intake a held worker waits on.
 */
export function createLlmProcessors(options: LlmProcessorsOptions) {
  const { config, logger } = options;
  // Provider pauses stop the intake of the LLM queues only; other kinds never call a provider.
  const intake = createLlmIntake(
    options.held,
    (error) => logger.error("an LLM queue's worker stopped: {error}", { error: String(error) }),
  );
  // Made with the first LLM queue: a worker without one polls no pauses and loads no provider.
  let llm: LlmContext | undefined;
  const llmContext = () =>
    llm ??= {
      config,
      pauses: startPauseWatch({
        redis: options.redis,
        defaultProvider: config.provider,
        logger,
        isRedisDown: options.isRedisDown,
        isDraining: options.isDraining,
        setIntakePaused: (paused) => intake.setProviderPaused(paused),
      }),
      results: createResultRouter(options.redis, config.prefix, config.resultQueues),
      runner: createLlmRunner({
        config,
        subprocessEnv: options.subprocessEnv,
        llmCallsInFlight: options.llmSlots?.reduce((sum, slots) => sum + slots, 0),
      }, options.stats),
    };
  let closed: Promise<void> | undefined;
  const close = () => closed ??= closeLlmContext(llm!, options.closeStepMs);
  const llmQueues = llmQueuesOf(config);
  return {
    /** The processor of the LLM queue `queue`, or `undefined` when this process's share of its `LLM_MAX_IN_FLIGHT` is 0. */
    open(queue: string): QueueProcessor | undefined {
      const slots = options.llmSlots?.[llmQueues.indexOf(queue)];
      const concurrency = slots === undefined
        ? config.concurrency
        : Math.min(config.concurrency, slots);
      if (concurrency === 0) return undefined;
      return { concurrency, intake, runTry: llmTry(llmContext(), options.tally), close };
    },
    /** The replaced worker has gone (`take-llm-jobs`): take LLM jobs, unless the provider is paused. */
    release(): void {
      intake.release();
    },
  };
}

/** The LLM processors of a worker process. */
export type LlmProcessors = ReturnType<typeof createLlmProcessors>;

/** A try of an LLM job: check the payload, respect its provider's pause, call it, route the result. */
function llmTry(llm: LlmContext, tally: Tally): RunTry {
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

/** Stops the pause watch, then closes the result queues and the provider clients, each bounded. */
async function closeLlmContext(llm: LlmContext, closeStepMs: number): Promise<void> {
  llm.pauses.stop();
  // Bounded, each of them: a Redis that does not answer must not hold the stop.
  await settlesWithin(llm.results.close(), closeStepMs);
  await settlesWithin(llm.runner.close(), closeStepMs);
}
