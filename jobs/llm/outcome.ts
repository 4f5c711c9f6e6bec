/** What to do with a failed LLM call: the decision is pure, the worker carries it out. */

import { type FailureKind, LlmError } from "../../providers/errors.ts";
import type { PauseReason } from "../../providers/pause.ts";

/** Tries a transient failure gets when the producer set no `attempts`. */
export const DEFAULT_TRIES = 3;
/** First retry delay of ppr-worker's own retries; doubles per try (2 s, 4 s, ...). */
export const RETRY_BASE_MS = 2000;

/** What happens to a job after a failed try. */
export type Decision =
  /** Fail for good with this message (it lists every try). */
  | { action: "fail"; message: string }
  /** Let BullMQ retry with the producer's `attempts` and `backoff`. */
  | { action: "retry"; message: string }
  /** Producer set no attempts: ppr-worker delays the job itself, spending no BullMQ attempt. */
  | { action: "delay"; delayMs: number; message: string }
  /** Auth or quota: the job goes back untouched and the provider pauses. */
  | { action: "give_back"; pause: PauseReason; reason: string; resetInMs?: number };

/**
 * Decides the fate of a failed try.
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
  const kind: FailureKind = failure.kind;
  if (kind === "auth") {
    return { action: "give_back", pause: "auth_failed", reason: failure.message };
  }
  if (kind === "quota") {
    return {
      action: "give_back",
      pause: "quota_exceeded",
      reason: failure.message,
      resetInMs: failure.retryAfterMs,
    };
  }
  if (kind === "invalid") return { action: "fail", message: failure.message };
  const tryNumber = earlierTries.length + 1;
  const maxTries = (producerAttempts ?? 1) > 1 ? producerAttempts! : DEFAULT_TRIES;
  if (tryNumber >= maxTries) {
    const all = [...earlierTries, failure.message].map((message, index) =>
      `try ${index + 1}: ${message}`
    );
    return { action: "fail", message: `failed ${tryNumber} times; ${all.join("; ")}` };
  }
  if ((producerAttempts ?? 1) > 1) return { action: "retry", message: failure.message };
  return {
    action: "delay",
    delayMs: RETRY_BASE_MS * 2 ** (tryNumber - 1),
    message: failure.message,
  };
}

/** The prefix of the job-log lines that record a failed try. */
export const TRY_LOG_PREFIX = "ppr try failed: ";
