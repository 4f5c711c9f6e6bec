/**
 * How long BullMQ's worker metrics keep per-minute counts: its own module so that a worker, which
 * only sets the retention, never loads the readers of `job_rates.ts` (and BullMQ's index with them).
 */

/**
 * How many minutes of per-minute counts every worker keeps per queue and state (BullMQ's
 * `metrics.maxDataPoints`): one day. Older minutes are trimmed by BullMQ as new ones come in.
 */
export const JOB_RATE_KEEP_MINUTES = 24 * 60;
