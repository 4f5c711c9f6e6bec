/** Reads queue depths, provider pauses and budgets on a timer and caches them, so a scrape never waits on Redis. */

import type { RedisClient } from "../redis/connection.ts";
import { everyInterval } from "../async/mod.ts";
import { type ProviderPause, readProviderPauses } from "../state/pauses.ts";
import { type QueueInfo, readQueues } from "../state/queues.ts";
import { readBudgets } from "../economics/spend.ts";
import type { BudgetSettings, BudgetState } from "../state/spend.ts";

/** What the poller last read; `readAt` is `undefined` until the first read worked. */
export interface QueueStats {
  queues: QueueInfo[];
  providers: ProviderPause[];
  /** `LLM_BUDGET_USD`'s budgets with what is left; `[]` when none is set. */
  budgets: BudgetState[];
  readAt: number | undefined;
}

/**
 * Reads every `intervalMs` through the read model (`state/`): each queue's counts by state and
 * paused flag (one pipelined round trip, never a scan), and each provider's pause. The returned
 * `state` is replaced whole after each read.
 */
export function startQueueStats(
  redis: RedisClient,
  options: {
    prefix: string;
    queues: string[];
    providers: readonly string[];
    budgets?: BudgetSettings;
    intervalMs?: number;
  },
) {
  const { prefix, queues, providers, budgets } = options;
  const stats: { state: QueueStats } = {
    state: { queues: [], providers: [], budgets: [], readAt: undefined },
  };
  const read = async () => {
    try {
      const [depths, pauses, budgetStates] = await Promise.all([
        readQueues(redis, prefix, queues),
        readProviderPauses(redis, providers),
        budgets && budgets.budgets.length > 0
          ? readBudgets(redis, [...budgets.budgets], budgets.period, Date.now())
          : [],
      ]);
      stats.state = {
        queues: depths,
        providers: pauses,
        budgets: budgetStates,
        readAt: Date.now(),
      };
    } catch {
      // Redis trouble shows in /health through the Redis probe; the last read stays.
    }
  };
  return { stats, stop: everyInterval(read, options.intervalMs ?? 5000) };
}
