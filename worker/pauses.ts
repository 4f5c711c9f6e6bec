/** The shared provider pauses as one worker process sees them: polled from Redis, recorded on failure, applied to intake. */

import type { RedisClient } from "../redis/connection.ts";
import type { Logger } from "@logtape/logtape";
import { type Clock, systemClock } from "../async/clock.ts";
import { clearQuotaStrikes, type Pause, readPause } from "../providers/pause.ts";

/** How often a worker reads the shared provider pauses. */
export const PAUSE_POLL_MS = 2000;

/** What the pause watch reads and whom it tells. */
export interface PauseWatchOptions {
  redis: RedisClient;
  /** `LLM_PROVIDER`: while it is paused this process takes no jobs. */
  defaultProvider: string;
  logger: Logger;
  isRedisDown(): boolean;
  /** A draining worker neither pauses nor resumes its intake. */
  isDraining(): boolean;
  /** Stops taking jobs (`true`) or takes them again (`false`). */
  setIntakePaused(paused: boolean): void;
  /** The time pauses end by, and the poll's timer. @default {systemClock} */
  clock?: Clock;
}

/** Starts polling the pauses of every provider this process has used. `stop()` ends it. */
export function startPauseWatch(options: PauseWatchOptions) {
  const { redis, defaultProvider, logger } = options;
  const clock = options.clock ?? systemClock;
  const pauses = new Map<string, Pause>();
  const watched = new Set<string>([defaultProvider]);
  // Providers this process saw under a quota pause: their next success ends the run of
  // strikes that makes each pause 1.5 times longer (one DEL per pause, not per job).
  const quotaSeen = new Set<string>();
  let intakePaused = false;

  const isPaused = (provider: string) => (pauses.get(provider)?.retry_at ?? 0) > clock.now();

  const apply = () => {
    if (options.isDraining()) return;
    const shouldPause = isPaused(defaultProvider);
    if (shouldPause && !intakePaused) {
      intakePaused = true;
      options.setIntakePaused(true);
    } else if (!shouldPause && intakePaused) {
      intakePaused = false;
      logger.info("{provider} resumes", { provider: defaultProvider });
      options.setIntakePaused(false);
    }
  };

  const note = (provider: string, pause: Pause | undefined) => {
    if (pause) pauses.set(provider, pause);
    else pauses.delete(provider);
    if (pause?.state === "quota_exceeded") quotaSeen.add(provider);
  };

  // One poll at a time: a poll asked for while one runs is that one.
  let polling: Promise<void> | undefined;
  const readAll = async () => {
    try {
      for (const provider of watched) note(provider, await readPause(redis, provider));
      apply();
    } catch {
      // Redis trouble is logged by the connection watch; the next poll tries again.
    } finally {
      polling = undefined;
    }
  };
  const poll = (): Promise<void> => {
    if (options.isRedisDown()) return Promise.resolve();
    return polling ??= readAll();
  };
  const timer = clock.setInterval(poll, PAUSE_POLL_MS);

  return {
    /** Reads the pauses of every watched provider now (the timer does so every `PAUSE_POLL_MS`). */
    poll,
    /**
     * The pause of `provider` if it is paused now. The first time a provider is seen its pause
     * is read from Redis at once (a worker must not call a provider paused elsewhere); from
     * then on it is polled with the others.
     */
    async pauseOf(provider: string): Promise<Pause | undefined> {
      if (!watched.has(provider)) {
        watched.add(provider);
        note(provider, await readPause(redis, provider).catch(() => undefined));
        apply();
      }
      return isPaused(provider) ? pauses.get(provider) : undefined;
    },
    /** A pause this process has just set or found (a job's auth or quota failure). */
    record(provider: string, pause: Pause): void {
      note(provider, pause);
      apply();
    },
    /** A success: the first after a quota pause ends the run of quota strikes. */
    async succeeded(provider: string): Promise<void> {
      if (quotaSeen.delete(provider)) await clearQuotaStrikes(redis, provider).catch(() => {});
    },
    stop(): void {
      clock.clearInterval(timer);
    },
  };
}

/** The shared provider pauses as this process sees them. */
export type PauseWatch = ReturnType<typeof startPauseWatch>;
