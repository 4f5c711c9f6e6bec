/** What to do with a failed try of any kind of job (LLM, recorder, external): the decision is pure, the worker carries it out. */

/** Tries a transient failure gets when the producer set no `attempts`. */
export const DEFAULT_TRIES = 3;
/** First retry delay of ppr-worker's own retries; doubles per try (2 s, 4 s, ...). */
export const RETRY_BASE_MS = 2000;
/** The prefix of the job-log lines that record a failed try. */
export const TRY_LOG_PREFIX = "ppr try failed: ";

/** What happens to a job after a transient failure, or a permanent one. */
export type RetryDecision =
  /** Fail for good with this message (after several tries it lists every try). */
  | { action: "fail"; message: string }
  /** Let BullMQ retry with the producer's `attempts` and `backoff`. */
  | { action: "retry"; message: string }
  /** Producer set no attempts: ppr-worker delays the job itself, spending no BullMQ attempt. */
  | { action: "delay"; delayMs: number; message: string };

/**
 * Decides the fate of a failed try of any kind of job. A permanent failure fails at once; a
 * transient one is retried: by BullMQ when the producer set `attempts` above 1, else by
 * ppr-worker itself (`DEFAULT_TRIES` tries, `RETRY_BASE_MS` doubling), and fails with the
 * message of every try after the last.
 *
 * @param earlierTries messages of the tries before this one (from the job's log)
 * @param producerAttempts the job's `opts.attempts` (1 or unset: the producer asked for none)
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { decideRetry } from "./retry_policy.ts";
 *
 * assert.deepEqual(decideRetry("exited with code 1", [], undefined, false), {
 *   action: "delay",
 *   delayMs: 2000,
 *   message: "exited with code 1",
 * });
 * assert.deepEqual(decideRetry("exited with code 1", [], 5, false), {
 *   action: "retry",
 *   message: "exited with code 1",
 * });
 * ```
 */
export function decideRetry(
  message: string,
  earlierTries: string[],
  producerAttempts: number | undefined,
  permanent: boolean,
): RetryDecision {
  if (permanent) return { action: "fail", message };
  const tryNumber = earlierTries.length + 1;
  const maxTries = (producerAttempts ?? 1) > 1 ? producerAttempts! : DEFAULT_TRIES;
  if (tryNumber >= maxTries) {
    const all = [...earlierTries, message].map((each, index) => `try ${index + 1}: ${each}`);
    return { action: "fail", message: `failed ${tryNumber} times; ${all.join("; ")}` };
  }
  if ((producerAttempts ?? 1) > 1) return { action: "retry", message };
  return { action: "delay", delayMs: RETRY_BASE_MS * 2 ** (tryNumber - 1), message };
}
