/**
 * The processor of the LLM queues: each queue's share of `LLM_MAX_IN_FLIGHT` as its concurrency
 * and as a hard bound on its tries in flight, changed live by `llm-slots`; one intake gate for
 * them all (provider pauses, `take-llm-jobs`, queues without a share), and a try that respects
 * its provider's pause, calls it and routes the result.
 */

import type { Logger } from "@logtape/logtape";
import { DelayedError } from "bullmq/errors";
import type { RedisClient } from "../redis/connection.ts";
import { inOneWrite } from "../redis/one_write.ts";
import { delay, settlesWithin } from "../async/mod.ts";
import { fallbackOf } from "../config/fallback_rule.ts";
import { LlmError } from "../providers/errors.ts";
import { type Pause, pauseProvider } from "../providers/pause.ts";
import { type Config, llmQueuesOf } from "../config/config.ts";
import {
  type CallTarget,
  createLlmRunner,
  prepareJob,
  primaryTarget,
  type RunOutcome,
} from "../jobs/llm/runner.ts";
import { createResultRouter } from "../jobs/results.ts";
import { spendingOf } from "../jobs/llm/spending_of.ts";
import type { PriceTable } from "../economics/prices.ts";
import type { WorkerStats } from "../protocol/stats.ts";
import { laneOf } from "../jobs/batch/lane.ts";
import { type BatchLane, createBatchLane } from "./batch_lane.ts";
import { giveBackJob } from "./give_back.ts";
import { jobLogLines } from "./failure.ts";
import { createLlmIntake, type LlmIntake } from "./llm_intake.ts";
import { type PauseWatch, startPauseWatch } from "./pauses.ts";
import type { QueueProcessor, RunTry } from "./queue_processor.ts";
import type { Tally } from "./reporter.ts";
import { addSpanEvent } from "../telemetry/tracing.ts";

/** What the LLM queues of a worker process need from it. */
export interface LlmProcessorsOptions {
  config: Config;
  /** The price table (`LLM_PRICES` over the shipped one). */
  prices: PriceTable;
  redis: RedisClient;
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
  /**
   * The shares of an `llm-slots` command numbered `seq` hold, and the tries in flight fit them:
   * the supervisor may now give the difference to another worker.
   */
  onSlotsApplied?(slots: number[], seq: number): void;
}

/** What the LLM queues share: providers, their pauses, result routing. */
interface LlmContext {
  config: Config;
  redis: RedisClient;
  runner: ReturnType<typeof createLlmRunner>;
  /** The batch lane's tries: collect a job, or complete it with its batch's outcome. */
  batch: BatchLane;
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
    config.llmBatchQueues,
  );
  // Made with the first LLM queue: a worker without one polls no pauses and loads no provider.
  let llm: LlmContext | undefined;
  const llmContext = () => llm ??= makeLlmContext();
  const makeLlmContext = (): LlmContext => {
    const providerContext = {
      config,
      subprocessEnv: options.subprocessEnv,
      llmCallsInFlight: options.llmSlots?.reduce((sum, slots) => sum + slots, 0),
    };
    const spending = spendingOf(config, options.redis, options.prices, logger);
    const results = createResultRouter(options.redis, config.prefix, config.resultQueues);
    const pauses = startPauseWatch({
      redis: options.redis,
      defaultProvider: config.provider,
      logger,
      isRedisDown: options.isRedisDown,
      isDraining: options.isDraining,
      // With a fallback, the jobs of a paused provider go to it: the intake stays open.
      setIntakePaused: (paused) =>
        config.llmFallback ? undefined : intake.setProviderPaused(paused),
    });
    // The intake opens once the pauses have been read: a worker started while the provider is
    // paused elsewhere takes no job. With Redis down it opens unread: no job can be taken then,
    // and the next poll that finds a pause shuts it.
    void pauses.poll().then(() => intake.pausesRead());
    return {
      config,
      redis: options.redis,
      pauses,
      results,
      runner: createLlmRunner(providerContext, options.stats, spending),
      batch: createBatchLane({
        context: providerContext,
        redis: options.redis,
        stats: options.stats,
        spending,
        results,
      }),
    };
  };
  let closed: Promise<void> | undefined;
  const close = () => closed ??= closeLlmContext(llm!, options.closeStepMs);
  const llmQueues = llmQueuesOf(config);
  /** Each LLM queue's share here (by its place in `llmQueues`); `undefined`: no bound. */
  let slots = options.llmSlots;
  const triesInFlight = new Map<string, number>();
  let unanswered: { slots: number[]; seq: number } | undefined;
  const slotsOf = (queue: string) => slots?.[llmQueues.indexOf(queue)];
  const concurrencyOf = (share: number | undefined) =>
    share === undefined ? config.concurrency : Math.max(1, Math.min(config.concurrency, share));
  /** Answers the last `llm-slots` once no queue has more tries in flight than its share. */
  const answerIfFits = () => {
    if (!unanswered) return;
    const fits = llmQueues.every((queue, index) =>
      (triesInFlight.get(queue) ?? 0) <= unanswered!.slots[index]
    );
    if (!fits) return;
    options.onSlotsApplied?.(unanswered.slots, unanswered.seq);
    unanswered = undefined;
  };
  /**
   * The share is a hard bound, not only BullMQ's concurrency: a Worker's fetch already under way
   * when its share shrank brings one job more, which goes back to the front of its queue.
   */
  const bounded = (queue: string, runTry: RunTry): RunTry => async (job, entry, failure) => {
    const share = slotsOf(queue);
    const inFlight = triesInFlight.get(queue) ?? 0;
    if (share !== undefined && inFlight >= share) {
      return await giveBackJob(job, entry.token, options.tally);
    }
    triesInFlight.set(queue, inFlight + 1);
    try {
      return await runTry(job, entry, failure);
    } finally {
      triesInFlight.set(queue, (triesInFlight.get(queue) ?? 1) - 1);
      answerIfFits();
    }
  };
  return {
    /** The processor of the LLM queue `queue`; with a share of 0 here, its Worker waits behind the intake gate. */
    open(queue: string): QueueProcessor {
      const share = slotsOf(queue);
      if (share !== undefined) intake.setShare(queue, share, concurrencyOf(share));
      return {
        concurrency: concurrencyOf(share),
        intake,
        runTry: bounded(queue, llmTry(llmContext(), options.tally, logger, intake)),
        close,
      };
    },
    /** The replaced worker has gone (`take-llm-jobs`): take LLM jobs, unless the provider is paused. */
    release(): void {
      intake.release();
    },
    /**
     * The supervisor changed this process's shares (`llm-slots`): each LLM queue takes at most
     * `newSlots` at once from now on; `onSlotsApplied` answers once the tries in flight fit.
     */
    setSlots(newSlots: number[], seq: number): void {
      slots = llmQueues.map((_, index) => newSlots[index] ?? 0);
      llmQueues.forEach((queue, index) =>
        intake.setShare(queue, slots![index], concurrencyOf(slots![index]))
      );
      unanswered = { slots, seq };
      answerIfFits();
    },
  };
}

/** The LLM processors of a worker process. */
export type LlmProcessors = ReturnType<typeof createLlmProcessors>;

/** The prefix of the job-log lines that record a provider's 429 the fleet's buckets waited for. */
export const RATE_LIMITED_LOG_PREFIX = "ppr rate limited: ";
/** Such 429s a job waits for before the next one pauses the provider (`quota_exceeded`). */
export const RATE_LIMITED_WAITS = 10;

/** How long a job may wait for the fleet's rate limit in its slot; a longer wait goes to `delayed`. */
export const RATE_WAIT_IN_SLOT_MS = 1000;

/**
 * A try of an LLM job: check the payload, respect its provider's pause (or take its fallback),
 * call it through the fleet's budgets and rate limits, route the result.
 */
function llmTry(llm: LlmContext, tally: Tally, logger: Logger, intake: LlmIntake): RunTry {
  const { config, pauses } = llm;
  return async (job, entry, failure) => {
    const prepared = prepareJob(job.data, config);
    if (laneOf(prepared.job, job.queueName, config, job.attemptsMade) === "batch") {
      // Collected while its provider is paused too: the desk holds the batch back instead.
      return await llm.batch.run(job, entry, prepared);
    }
    const primary = prepared.providerName;
    const fallback = fallbackOf(
      config.llmFallback,
      job.queueName,
      prepared.job.fallback &&
        { provider: prepared.job.fallback.name, model: prepared.job.fallback.model },
    );
    /**
     * The fallback as a target, when there is one and it is not paused itself. While the
     * provider is paused only another provider can stand in (pauses are per provider); for an
     * overloaded call another model of the same provider can.
     */
    const fallbackTarget = async (
      why: "paused" | "overloaded",
    ): Promise<CallTarget | undefined> => {
      if (!fallback || (why === "paused" && fallback.provider === primary)) return undefined;
      if (fallback.provider === primary && fallback.model === target.model) return undefined;
      if (await pauses.pauseOf(fallback.provider)) return undefined;
      return { provider: fallback.provider, model: fallback.model, fallbackFrom: primary };
    };
    /** The job waits for `pause` to end: at the front of its queue, or in `delayed`. */
    const waitFor = async (provider: string, pause: Pause): Promise<never> => {
      addSpanEvent("ppr.provider_paused", pauseEventAttributes(provider, pause));
      if (
        provider === config.provider && !config.llmFallback && intake.shutByPause(job.queueName)
      ) {
        // This worker's intake pauses with its provider: the job waits at the front of its queue.
        return await giveBackJob(job, entry.token, tally);
      }
      // Another provider's pause, or a direct job in a queue that collects for batches (open
      // during pauses): the job waits in `delayed` until the pause ends, spending no attempt,
      // instead of going back to the front of the queue to be taken again at once.
      await job.moveToDelayed(pause.retry_at, entry.token);
      throw new DelayedError();
    };

    let target = primaryTarget(prepared, config);
    const pause = await pauses.pauseOf(primary);
    if (pause) target = (await fallbackTarget("paused")) ?? await waitFor(primary, pause);
    failure.llm = { provider: target.provider, pauses, authRetryMs: config.llmProbeIntervalMs };

    for (let rateWaits = 0;; rateWaits++) {
      let outcome: RunOutcome;
      try {
        outcome = await llm.runner.run(prepared, target, job.queueName, entry.controller.signal);
      } catch (error) {
        const overloaded = error instanceof LlmError && error.kind === "overloaded";
        const standIn = overloaded && !target.fallbackFrom
          ? await fallbackTarget("overloaded")
          : undefined;
        if (!standIn) throw error;
        logger.info("job {id}: {provider} is overloaded; its fallback {fallback} answers", {
          id: job.id,
          provider: target.provider,
          fallback: standIn.provider,
        });
        target = standIn;
        failure.llm = { provider: target.provider, pauses, authRetryMs: config.llmProbeIntervalMs };
        continue;
      }
      if (outcome.kind === "result") {
        // What the call leaves in Redis and the result's routing: one write, one round trip.
        const { result, record } = outcome;
        await inOneWrite(llm.redis, () => Promise.all([llm.results.route(job, result), record()]));
        await pauses.succeeded(target.provider);
        return outcome.result;
      }
      if (outcome.kind === "wait") {
        if (outcome.fromProvider) {
          // A provider's 429 that the fleet's buckets did not foresee: counted in the job's log,
          // and bounded, so that a provider that answers nothing else pauses instead.
          await job.log(RATE_LIMITED_LOG_PREFIX + outcome.reason);
          const waits = await jobLogLines(llm.redis, config.prefix, job, RATE_LIMITED_LOG_PREFIX);
          if (waits > RATE_LIMITED_WAITS) {
            throw new LlmError("quota", `${outcome.reason} (${waits} times in a row)`);
          }
        }
        if (outcome.waitMs <= RATE_WAIT_IN_SLOT_MS && rateWaits < 3) {
          await delay(outcome.waitMs, { signal: entry.controller.signal });
          continue;
        }
        // Spread a little, so the jobs held back together do not all come back at one moment.
        const waitMs = Math.round(outcome.waitMs * (1 + Math.random() * 0.1));
        logger.debug("job {id}: {reason}; waiting {seconds} s, no try spent", {
          id: job.id,
          reason: outcome.reason,
          seconds: waitMs / 1000,
        });
        await job.moveToDelayed(Date.now() + waitMs, entry.token);
        throw new DelayedError();
      }
      const { admission } = outcome;
      const reason =
        `budget ${admission.budget} reached: $${admission.spentUsd.toFixed(4)} spent, ` +
        `$${admission.reservedUsd.toFixed(4)} reserved of $${admission.limitUsd}; resets ${
          new Date(admission.resetAtMs).toISOString()
        }`;
      if (admission.scope.scope === "queue") {
        logger.info("job {id}: {reason}; it waits for the reset, no try spent", {
          id: job.id,
          reason,
        });
        await job.moveToDelayed(admission.resetAtMs, entry.token);
        throw new DelayedError();
      }
      const budgetPause = await pauseProvider(llm.redis, target.provider, "budget", reason, {
        untilMs: admission.resetAtMs,
      });
      pauses.record(target.provider, budgetPause);
      const standIn = target.fallbackFrom ? undefined : await fallbackTarget("paused");
      if (!standIn) return await waitFor(target.provider, budgetPause);
      target = standIn;
      failure.llm = { provider: target.provider, pauses, authRetryMs: config.llmProbeIntervalMs };
    }
  };
}

/** A pause as a span event's attributes: its state and end, never its text (a provider's words). */
function pauseEventAttributes(provider: string, pause: Pause) {
  return {
    "ppr.provider": provider,
    "ppr.pause.state": pause.state,
    "ppr.pause.retry_at": new Date(pause.retry_at).toISOString(),
  };
}

/** Stops the pause watch, then closes the result queues and the provider clients, each bounded. */
async function closeLlmContext(llm: LlmContext, closeStepMs: number): Promise<void> {
  llm.pauses.stop();
  // Bounded, each of them: a Redis that does not answer must not hold the stop.
  await settlesWithin(llm.results.close(), closeStepMs);
  await settlesWithin(llm.runner.close(), closeStepMs);
}
