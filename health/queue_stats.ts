/** Reads queue depths, the workers serving each queue, provider pauses and budgets on a timer and caches them, so a scrape never waits on Redis. */

import type { RedisClient } from "../redis/connection.ts";
import { everyInterval } from "../async/mod.ts";
import { type ProviderPause, readProviderPauses } from "../state/pauses.ts";
import { type QueueInfo, readQueues, readQueueWorkerCounts } from "../state/queues.ts";
import { ReadingQueue } from "../state/reading_queue.ts";
import { readBudgets } from "../economics/spend.ts";
import type { BudgetSettings, BudgetState } from "../state/spend.ts";

/** What the poller last read; `readAt` is `undefined` until the first read worked. */
export interface QueueStats {
  queues: QueueInfo[];
  /**
   * The BullMQ Workers serving each queue this pool serves, fleet-wide (every container's);
   * absent when Redis refused `CLIENT LIST`, and in snapshots made without the poller (tests).
   */
  queueWorkers?: { queue: string; workers: number }[];
  providers: ProviderPause[];
  /** `LLM_BUDGET_USD`'s budgets with what is left; `[]` when none is set. */
  budgets: BudgetState[];
  readAt: number | undefined;
}

/**
 * Reads every `intervalMs` through the read model (`state/`): each queue's counts by state and
 * paused flag (one pipelined round trip, never a scan), the BullMQ Workers of each of
 * `servedQueues` fleet-wide (one `CLIENT LIST` each), and each provider's pause. The returned
 * `state` is replaced whole after each read.
 */
export function startQueueStats(
  redis: RedisClient,
  options: {
    prefix: string;
    queues: string[];
    /** The queues whose workers are counted: those this pool serves (not its result queues). @default {[]} */
    servedQueues?: readonly string[];
    providers: readonly string[];
    budgets?: BudgetSettings;
    intervalMs?: number;
  },
) {
  const { prefix, queues, providers, budgets } = options;
  const servedQueues = options.servedQueues ?? [];
  const stats: { state: QueueStats } = {
    state: { queues: [], queueWorkers: [], providers: [], budgets: [], readAt: undefined },
  };
  // Opened once: a Queue per read would cost a connection check every few seconds.
  const openQueues = new Map(servedQueues.map((name) => {
    const queue = new ReadingQueue(name, { connection: redis, prefix });
    queue.on("error", () => {});
    return [name, queue];
  }));
  const read = async () => {
    try {
      const [depths, workerCounts, pauses, budgetStates] = await Promise.all([
        readQueues(redis, prefix, queues),
        // A Redis that refuses CLIENT LIST (an ACL, a managed service) costs this figure alone.
        readQueueWorkerCounts(redis, { prefix }, servedQueues, openQueues).catch(() => undefined),
        readProviderPauses(redis, providers),
        budgets && budgets.budgets.length > 0
          ? readBudgets(redis, [...budgets.budgets], budgets.period, Date.now())
          : [],
      ]);
      stats.state = {
        queues: depths,
        queueWorkers: workerCounts &&
          [...workerCounts].map(([queue, workers]) => ({ queue, workers })),
        providers: pauses,
        budgets: budgetStates,
        readAt: Date.now(),
      };
    } catch {
      // Redis trouble shows in /health through the Redis probe; the last read stays.
    }
  };
  const stopReading = everyInterval(read, options.intervalMs ?? 5000);
  return {
    stats,
    stop() {
      stopReading();
      // Closing a Queue on a shared connection leaves the connection open for its owner.
      for (const queue of openQueues.values()) void queue.close().catch(() => {});
    },
  };
}
