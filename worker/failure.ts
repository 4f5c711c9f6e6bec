/** Carries out the decision about a failed try: give back and pause, fail, retry through BullMQ, or delay. */

import type { Job } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "@logtape/logtape";
import { DelayedError, UnrecoverableError } from "bullmq/errors";
import { decide, TRY_LOG_PREFIX } from "../jobs/llm/outcome.ts";
import { redact } from "../log/redact.ts";
import { pauseProvider } from "../providers/pause.ts";
import { giveBackJob } from "./give_back.ts";
import type { PauseWatch } from "./pauses.ts";
import type { Tally } from "./reporter.ts";

/** What handling a failed try needs. */
export interface FailureContext {
  redis: Redis;
  prefix: string;
  /** `LLM_PROBE_INTERVAL`: how long an auth pause lasts. */
  authRetryMs: number;
  pauses: PauseWatch;
  tally: Tally;
  logger: Logger;
}

/** The messages of a job's earlier failed tries, from its BullMQ log. */
async function earlierTries(redis: Redis, prefix: string, job: Job): Promise<string[]> {
  const lines = await redis.lrange(`${prefix}:${job.queueName}:${job.id}:logs`, 0, -1);
  return lines.filter((line) => line.startsWith(TRY_LOG_PREFIX))
    .map((line) => line.slice(TRY_LOG_PREFIX.length));
}

/** Handles a failed try of `job` on `provider`; always throws, as BullMQ expects of a processor. */
export async function handleFailure(
  context: FailureContext,
  job: Job,
  token: string,
  provider: string,
  error: unknown,
): Promise<never> {
  // Whatever a provider said goes into logs and the job's record in Redis: no secret may.
  if (error instanceof Error) error.message = redact(error.message);
  if (error instanceof UnrecoverableError) throw error;
  const { redis, logger } = context;
  const decision = decide(error, await earlierTries(redis, context.prefix, job), job.opts.attempts);
  switch (decision.action) {
    case "give_back": {
      const pause = await pauseProvider(redis, provider, decision.pause, decision.reason, {
        resetInMs: decision.resetInMs,
        authRetryMs: context.authRetryMs,
      });
      logger.warn(
        "{provider} paused ({state}) until {until}: {reason}; job {id} is given back untouched",
        {
          provider,
          state: pause.state,
          until: new Date(pause.retry_at).toISOString(),
          reason: pause.reason,
          id: job.id,
        },
      );
      context.pauses.record(provider, pause);
      return await giveBackJob(job, token, context.tally);
    }
    case "fail":
      throw new UnrecoverableError(decision.message);
    case "retry":
      await job.log(TRY_LOG_PREFIX + decision.message);
      throw new Error(decision.message);
    case "delay":
      await job.log(TRY_LOG_PREFIX + decision.message);
      logger.info("job {id}: {reason}; retrying in {seconds} s", {
        id: job.id,
        reason: decision.message,
        seconds: decision.delayMs / 1000,
      });
      await job.moveToDelayed(Date.now() + decision.delayMs, token);
      throw new DelayedError();
  }
}
