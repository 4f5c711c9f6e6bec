/** What to do with a failed LLM call: auth and quota pause the provider; the rest follows the retry policy of every job. */

import { LlmError } from "../../providers/errors.ts";
import type { PauseReason } from "../../providers/pause.ts";
import { decideRetry, type RetryDecision } from "../retry_policy.ts";

/** What happens to an LLM job after a failed try. */
export type Decision =
  | RetryDecision
  /** Auth or quota: the job goes back untouched and the provider pauses. */
  | { action: "give_back"; pause: PauseReason; reason: string; resetInMs?: number };

/**
 * Decides the fate of a failed LLM call: `auth` and `quota` give the job back and pause the
 * provider, `invalid` fails at once, `transient` (and any error that is no `LlmError`) is
 * retried as `decideRetry` says.
 *
 * @param earlierTries messages of the tries before this one (from the job's log)
 * @param producerAttempts the job's `opts.attempts` (1 or unset: the producer asked for none)
 */
export function decide(
  error: unknown,
  earlierTries: string[],
  producerAttempts: number | undefined,
): Decision {
  const failure = error instanceof LlmError
    ? error
    : new LlmError("transient", error instanceof Error ? error.message : String(error));
  if (failure.kind === "auth") {
    return { action: "give_back", pause: "auth_failed", reason: failure.message };
  }
  if (failure.kind === "quota") {
    return {
      action: "give_back",
      pause: "quota_exceeded",
      reason: failure.message,
      resetInMs: failure.retryAfterMs,
    };
  }
  return decideRetry(failure.message, earlierTries, producerAttempts, failure.kind === "invalid");
}
