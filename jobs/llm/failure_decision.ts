/**
 * What to do with a failed LLM call: auth, quota and billing pause the provider; an overloaded
 * provider is waited for without spending an attempt, a bounded number of times; the rest
 * follows the retry policy of every job.
 */

import { LlmError } from "../../providers/errors.ts";
import type { PauseReason } from "../../providers/pause.ts";
import { decideRetry, type RetryDecision } from "../retry_policy.ts";

/** The prefix of the job-log lines that record a wait for an overloaded provider. */
export const OVERLOADED_LOG_PREFIX = "ppr overloaded: ";
/** Waits for an overloaded provider a job gets before the next overload counts as a failed try. */
export const OVERLOAD_WAITS = 6;
/** First cap of the jittered wait for an overloaded provider; doubles per wait, at most `OVERLOAD_MAX_MS`. */
export const OVERLOAD_BASE_MS = 5000;
/** The longest wait for an overloaded provider. */
export const OVERLOAD_MAX_MS = 120_000;

/** What happens to an LLM job after a failed try. */
export type Decision =
  | RetryDecision
  /** Auth, quota or billing: the job goes back untouched and the provider pauses. */
  | { action: "give_back"; pause: PauseReason; reason: string; resetInMs?: number }
  /** Overloaded: the job waits in `delayed`, no attempt spent. */
  | { action: "wait"; delayMs: number; reason: string };

/**
 * How long a job waits for an overloaded provider: what the provider asked (`retry-after`, at
 * most `OVERLOAD_MAX_MS`, plus up to a fifth more), else "full jitter" (a random share of a cap
 * doubling per wait from `OVERLOAD_BASE_MS` to `OVERLOAD_MAX_MS`), at least 1 s, so a fleet's
 * retries spread out instead of arriving together.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { overloadWaitMs } from "./failure_decision.ts";
 *
 * assert.equal(overloadWaitMs(0, undefined, () => 0.5), 2500);
 * assert.equal(overloadWaitMs(3, undefined, () => 0.5), 20_000);
 * assert.equal(overloadWaitMs(9, undefined, () => 1), 120_000);
 * assert.equal(overloadWaitMs(0, 7000, () => 0.5), 7700);
 * assert.equal(overloadWaitMs(0, 86_400_000, () => 0), 120_000);
 * ```
 */
export function overloadWaitMs(
  earlierWaits: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) {
    const asked = Math.min(OVERLOAD_MAX_MS, Math.max(1000, retryAfterMs));
    return Math.round(asked * (1 + random() * 0.2));
  }
  const cap = Math.min(OVERLOAD_MAX_MS, OVERLOAD_BASE_MS * 2 ** earlierWaits);
  return Math.max(1000, Math.round(random() * cap));
}

/**
 * Decides the fate of a failed LLM call: `auth`, `quota` and `billing` give the job back and
 * pause the provider; `overloaded` waits (no attempt spent) up to `OVERLOAD_WAITS` times, then
 * counts as transient; `invalid` fails at once; `transient` (and any error that is no
 * `LlmError`) is retried as `decideRetry` says.
 *
 * @param earlierTries messages of the tries before this one (from the job's log)
 * @param producerAttempts the job's `opts.attempts` (1 or unset: the producer asked for none)
 * @param earlierOverloads waits for an overloaded provider this job has had (from its log)
 */
export function decide(
  error: unknown,
  earlierTries: string[],
  producerAttempts: number | undefined,
  earlierOverloads = 0,
  random: () => number = Math.random,
): Decision {
  const failure = error instanceof LlmError
    ? error
    : new LlmError("transient", error instanceof Error ? error.message : String(error));
  switch (failure.kind) {
    case "auth":
      return { action: "give_back", pause: "auth_failed", reason: failure.message };
    case "quota":
      return {
        action: "give_back",
        pause: "quota_exceeded",
        reason: failure.message,
        resetInMs: failure.retryAfterMs,
      };
    case "billing":
      return { action: "give_back", pause: "billing", reason: failure.message };
    case "overloaded":
      if (earlierOverloads < OVERLOAD_WAITS) {
        return {
          action: "wait",
          delayMs: overloadWaitMs(earlierOverloads, failure.retryAfterMs, random),
          reason: failure.message,
        };
      }
      return decideRetry(failure.message, earlierTries, producerAttempts, false);
    default:
      return decideRetry(
        failure.message,
        earlierTries,
        producerAttempts,
        failure.kind === "invalid",
      );
  }
}
