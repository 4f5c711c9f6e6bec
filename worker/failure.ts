/** Carries out the decision about a failed try: fail, retry through BullMQ, or delay; for an LLM job also give back and pause its provider. */

import type { Job } from "bullmq";
import type { RedisClient } from "../redis/connection.ts";
import type { Logger } from "@logtape/logtape";
import { DelayedError, UnrecoverableError } from "bullmq/errors";
import { decide, OVERLOADED_LOG_PREFIX } from "../jobs/llm/failure_decision.ts";
import { decideRetry, type RetryDecision, TRY_LOG_PREFIX } from "../jobs/retry_policy.ts";
import { redact } from "../log/redact.ts";
import { jobLogsKey } from "../redis/bullmq_internals.ts";
import { pauseProvider, type PauseReason } from "../providers/pause.ts";
import { giveBackJob } from "./give_back.ts";
import type { PauseWatch } from "./pauses.ts";
import type { Tally } from "./reporter.ts";

/** What handling a failed try needs, whatever the kind of job. */
export interface FailureContext {
  redis: RedisClient;
  prefix: string;
  tally: Tally;
  logger: Logger;
  /**
   * Counts a try that failed and that ppr-worker retries itself (BullMQ emits no `failed` for
   * it), as the worker counts the tries BullMQ fails.
   */
  countFailedTry(job: Job): void;
}

/** What handling a failed LLM call needs besides: its provider may pause. */
export interface LlmFailure {
  provider: string;
  pauses: PauseWatch;
  /** `LLM_PROBE_INTERVAL`: how long an auth pause lasts. */
  authRetryMs: number;
}

/** How many lines of a job's BullMQ log start with `linePrefix`. */
export async function jobLogLines(
  redis: RedisClient,
  prefix: string,
  job: Job,
  linePrefix: string,
): Promise<number> {
  const lines = await redis.lrange(jobLogsKey(prefix, job.queueName, String(job.id)), 0, -1);
  return lines.filter((line) => line.startsWith(linePrefix)).length;
}

/** What a job's BullMQ log says of its earlier tries: the failed ones, and the waits for an overloaded provider. */
async function earlierTries(
  redis: RedisClient,
  prefix: string,
  job: Job,
): Promise<{ failed: string[]; overloads: number }> {
  const lines = await redis.lrange(jobLogsKey(prefix, job.queueName, String(job.id)), 0, -1);
  return {
    failed: lines.filter((line) => line.startsWith(TRY_LOG_PREFIX))
      .map((line) => line.slice(TRY_LOG_PREFIX.length)),
    overloads: lines.filter((line) => line.startsWith(OVERLOADED_LOG_PREFIX)).length,
  };
}

/**
 * Handles a failed try of `job`; always throws, as BullMQ expects of a processor. An
 * `UnrecoverableError` fails the job at once; any other error is transient and retried as
 * `decideRetry` says. With `llm`, the error is an LLM call's and `decide` may also pause the
 * provider and give the job back.
 */
export async function handleFailure(
  context: FailureContext,
  job: Job,
  token: string,
  error: unknown,
  llm?: LlmFailure,
): Promise<never> {
  // Whatever a provider or processor said goes into logs and the job's record in Redis: no secret may.
  if (error instanceof Error) error.message = redact(error.message);
  if (error instanceof UnrecoverableError) throw error;
  const tries = await earlierTries(context.redis, context.prefix, job);
  if (!llm) {
    const message = error instanceof Error ? error.message : String(error);
    const decision = decideRetry(message, tries.failed, job.opts.attempts, false);
    return await carryOut(context, job, token, decision);
  }
  const decision = decide(error, tries.failed, job.opts.attempts, tries.overloads);
  if (decision.action === "give_back") {
    return await pauseAndGiveBack(context, llm, job, token, decision);
  }
  if (decision.action === "wait") {
    return await delayJob(context, job, token, {
      logLine: OVERLOADED_LOG_PREFIX + decision.reason,
      why: `${decision.reason}; waiting`,
      delayMs: decision.delayMs,
      spent: "no try spent",
    });
  }
  return await carryOut(context, job, token, decision);
}

/** Records why in the job's log and the worker's, and moves the job to `delayed` for `delayMs`. */
async function delayJob(
  context: FailureContext,
  job: Job,
  token: string,
  delay: { logLine: string; why: string; delayMs: number; spent: string },
): Promise<never> {
  await job.log(delay.logLine);
  context.logger.info("job {id}: {why} {seconds} s, {spent}", {
    id: job.id,
    why: delay.why,
    seconds: delay.delayMs / 1000,
    spent: delay.spent,
  });
  await job.moveToDelayed(Date.now() + delay.delayMs, token);
  throw new DelayedError();
}

/** Fails the job, lets BullMQ retry it, or delays it for ppr-worker's own retry. */
async function carryOut(
  context: FailureContext,
  job: Job,
  token: string,
  decision: RetryDecision,
): Promise<never> {
  switch (decision.action) {
    case "fail":
      throw new UnrecoverableError(decision.message);
    case "retry":
      await job.log(TRY_LOG_PREFIX + decision.message);
      throw new Error(decision.message);
    case "delay":
      context.countFailedTry(job);
      return await delayJob(context, job, token, {
        logLine: TRY_LOG_PREFIX + decision.message,
        why: `${decision.message}; retrying in`,
        delayMs: decision.delayMs,
        spent: "a try spent",
      });
  }
}

/** Auth, quota or billing: pauses the provider everywhere and gives the job back untouched. */
async function pauseAndGiveBack(
  context: FailureContext,
  llm: LlmFailure,
  job: Job,
  token: string,
  decision: { pause: PauseReason; reason: string; resetInMs?: number },
): Promise<never> {
  const pause = await pauseProvider(context.redis, llm.provider, decision.pause, decision.reason, {
    resetInMs: decision.resetInMs,
    authRetryMs: llm.authRetryMs,
  });
  context.logger.warn(
    "{provider} paused ({state}) until {until}: {reason}; job {id} is given back untouched",
    {
      provider: llm.provider,
      state: pause.state,
      until: new Date(pause.retry_at).toISOString(),
      reason: pause.reason,
      id: job.id,
    },
  );
  llm.pauses.record(llm.provider, pause);
  return await giveBackJob(job, token, context.tally);
}
