/** A worker's stop: take no new jobs, let jobs in flight finish until the drain deadline, give the rest back, then close. */

import type { Logger } from "@logtape/logtape";
import { type Clock, systemClock } from "../async/clock.ts";
import type { InFlight } from "./in_flight.ts";
import type { Reporter } from "./reporter.ts";

/**
 * How long past the drain deadline the jobs given back may take to settle before the worker
 * goes on regardless (Redis does not answer): the supervisor's backstop comes later.
 */
export const CLOSE_BACKSTOP_MS = 1500;

/** What a drain needs: the deadline, the jobs in flight, and how to close. */
export interface DrainOptions {
  drainTimeoutMs: number;
  inFlight: InFlight;
  reporter: Pick<Reporter, "emit">;
  logger: Logger;
  /** Stops BullMQ's workers; resolves when their jobs in flight have finished or been given back. */
  closeWorkers(): Promise<unknown>;
  /** Everything after the workers: timers, result queues, registration, the Redis connection. */
  closeRest(): Promise<void>;
  /** The drain deadline's and the backstop's timers. @default {systemClock} */
  clock?: Clock;
}

/** The drain of one worker process; `done` resolves once it has stopped. */
export function createDrain(options: DrainOptions) {
  const { inFlight, reporter, logger } = options;
  const clock = options.clock ?? systemClock;
  let started = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));

  /** Gives every job in flight back to its queue now. */
  const giveBackAll = (why: string) => {
    if (inFlight.size === 0) return;
    logger.warn("{why}: giving {count} job(s) back to the queue", { why, count: inFlight.size });
    inFlight.giveBackAll(why);
  };

  const run = async (reason: string) => {
    reporter.emit({ event: "draining" });
    logger.info("draining ({reason}): no new jobs; {count} in flight", {
      reason,
      count: inFlight.size,
    });
    const deadline = clock.setTimeout(
      () => giveBackAll(`drain timeout of ${options.drainTimeoutMs} ms reached`),
      options.drainTimeoutMs,
    );
    // Bounded even when Redis is down and BullMQ cannot finish closing.
    await new Promise<void>((resolve) => {
      const backstop = clock.setTimeout(resolve, options.drainTimeoutMs + CLOSE_BACKSTOP_MS);
      options.closeWorkers().catch(() => {}).finally(() => {
        clock.clearTimeout(backstop);
        resolve();
      });
    });
    clock.clearTimeout(deadline);
    await options.closeRest();
    resolveDone();
  };

  return {
    done,
    get started(): boolean {
      return started;
    },
    /** Starts the drain; a second request gives the jobs in flight back at once. */
    request(reason: string): void {
      if (started) return giveBackAll("second stop request");
      started = true;
      void run(reason);
    },
    /** Starts the drain if need be and gives every job in flight back now. */
    stopNow(reason: string): void {
      if (!started) {
        started = true;
        void run(reason);
      }
      giveBackAll(reason);
    },
  };
}

/** The drain of one worker process. */
export type Drain = ReturnType<typeof createDrain>;
