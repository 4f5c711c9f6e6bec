/** Restart timing: exponential backoff with jitter, and OTP-style restart intensity. */

export interface RestartDelayOptions {
  /** Delay before the first restart (`RESTART_DELAY`). @default {10000} */
  baseMs?: number;
  /** The delay never grows past this. @default {300000} */
  maxMs?: number;
  /** Up to this fraction is added at random, so slots that die together do not restart together. @default {0.2} */
  jitter?: number;
  /** @default {Math.random} */
  random?: () => number;
}

/**
 * The delay before restarting a child that has crashed `crashesInARow` times
 * in a row (1 for the first crash): `baseMs × 2^(crashesInARow − 1)`, plus up
 * to `jitter` of that at random, capped at `maxMs`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { restartDelayMs } from "./backoff.ts";
 *
 * assert.equal(restartDelayMs(1, { baseMs: 1000, jitter: 0 }), 1000);
 * assert.equal(restartDelayMs(3, { baseMs: 1000, jitter: 0 }), 4000);
 * assert.equal(restartDelayMs(20, { baseMs: 1000, maxMs: 60_000, jitter: 0 }), 60_000);
 * ```
 */
export function restartDelayMs(crashesInARow: number, options: RestartDelayOptions = {}): number {
  const { baseMs = 10_000, maxMs = 300_000, jitter = 0.2, random = Math.random } = options;
  if (!Number.isInteger(crashesInARow) || crashesInARow < 1) {
    throw new RangeError(
      `Cannot compute a restart delay as 'crashesInARow' must be an integer >= 1: current value is ${crashesInARow}`,
    );
  }
  const exponential = baseMs * 2 ** Math.min(crashesInARow - 1, 30);
  return Math.round(Math.min(maxMs, exponential * (1 + jitter * random())));
}

/**
 * Drops the restart times that fell out of the window and adds `now`:
 * the history OTP checks restart intensity against.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { recordRestart } from "./backoff.ts";
 *
 * assert.deepEqual(recordRestart([1000, 5000], 62_000, 60_000), [5000, 62_000]);
 * ```
 */
export function recordRestart(
  restartTimes: readonly number[],
  now: number,
  periodMs: number,
): number[] {
  return [...restartsInWindow(restartTimes, now, periodMs), now];
}

/** The restart times within the last `periodMs` before `now`. */
export function restartsInWindow(
  restartTimes: readonly number[],
  now: number,
  periodMs: number,
): number[] {
  return restartTimes.filter((time) => now - time < periodMs);
}

/**
 * Whether more than `intensity` restarts happened in the last `periodMs`:
 * past that, restarting again would be a storm.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { exceedsIntensity } from "./backoff.ts";
 *
 * assert.equal(exceedsIntensity([1, 2, 3], 10, 3, 60_000), false);
 * assert.equal(exceedsIntensity([1, 2, 3, 4], 10, 3, 60_000), true);
 * ```
 */
export function exceedsIntensity(
  restartTimes: readonly number[],
  now: number,
  intensity: number,
  periodMs: number,
): boolean {
  return restartsInWindow(restartTimes, now, periodMs).length > intensity;
}
