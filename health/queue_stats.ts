/** Reads queue depths and provider pauses on a timer and caches them, so a scrape never waits on Redis. */

import type { Redis } from "ioredis";
import { everyInterval } from "../async/mod.ts";
import { parsePause } from "../providers/pause.ts";
import { META_PAUSED_FIELD, metaKey, stateKey } from "../redis/bullmq_internals.ts";
import { pauseKey } from "../redis/keys.ts";

/** The states a queue's depth is counted in. */
export const QUEUE_STATES = ["waiting", "prioritized", "active", "delayed", "failed"] as const;
export type QueueState = typeof QUEUE_STATES[number];

/** One queue's depth by state, and whether it is paused. */
export interface QueueDepth {
  queue: string;
  counts: Record<QueueState, number>;
  paused: boolean;
}

/** One provider's shared pause as the workers see it. */
export interface ProviderPause {
  provider: string;
  paused: boolean;
  /** Seconds until work resumes; 0 when not paused. */
  resumesInSeconds: number;
}

/** What the poller last read; `readAt` is `undefined` until the first read worked. */
export interface QueueStats {
  queues: QueueDepth[];
  providers: ProviderPause[];
  readAt: number | undefined;
}

/**
 * Reads every `intervalMs` with one pipelined round trip: per queue the length of each state's
 * list or sorted set (`LLEN`/`ZCARD`, never a scan) and the paused flag, and each provider's
 * pause key. The returned `state` is replaced whole after each read.
 */
export function startQueueStats(
  redis: Redis,
  options: { prefix: string; queues: string[]; providers: readonly string[]; intervalMs?: number },
) {
  const { prefix, queues, providers } = options;
  const stats: { state: QueueStats } = { state: { queues: [], providers: [], readAt: undefined } };
  const read = async () => {
    try {
      const pipeline = redis.pipeline();
      for (const queue of queues) {
        const key = (state: QueueState) => stateKey(prefix, queue, state);
        pipeline.llen(key("waiting")).zcard(key("prioritized")).llen(key("active"))
          .zcard(key("delayed")).zcard(key("failed"))
          .hexists(metaKey(prefix, queue), META_PAUSED_FIELD);
      }
      for (const provider of providers) pipeline.get(pauseKey(provider));
      const replies = ((await pipeline.exec()) ?? []).map(([error, value]) => error ? 0 : value);
      const now = Date.now();
      const depths = queues.map((queue, index) => {
        const [waiting, prioritized, active, delayed, failed, paused] = replies.slice(
          index * 6,
          index * 6 + 6,
        ) as number[];
        return {
          queue,
          counts: { waiting, prioritized, active, delayed, failed },
          paused: paused === 1,
        };
      });
      const pauses = providers.map((provider, index) => {
        const raw = replies[queues.length * 6 + index];
        const retryAt = Number(parsePause(typeof raw === "string" ? raw : null)?.retry_at) || 0;
        return {
          provider,
          paused: retryAt > now,
          resumesInSeconds: Math.max(0, Math.ceil((retryAt - now) / 1000)),
        };
      });
      stats.state = { queues: depths, providers: pauses, readAt: now };
    } catch {
      // Redis trouble shows in /health through the Redis probe; the last read stays.
    }
  };
  return { stats, stop: everyInterval(read, options.intervalMs ?? 5000) };
}
