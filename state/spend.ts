/** What the fleet has spent on LLM calls, today and in total, and what is left of each budget: as `info` and the dashboard show it. */

import type { RedisClient } from "../redis/connection.ts";
import type { BudgetPeriod, BudgetSpec } from "../config/economics_rules.ts";
import {
  type BudgetState,
  readBudgets,
  readSpend,
  type SpendReport,
  type SpendRow,
} from "../economics/spend.ts";

export type { BudgetState, SpendRow };

/** The fleet's spend at one moment: today (UTC) and in total, by model and by queue, and each budget of the reader's configuration with what is left. */
export interface Spend extends SpendReport {
  budgets: BudgetState[];
}

/** The budgets a reader shows (its configuration's `LLM_BUDGET_USD` and `LLM_BUDGET_PERIOD`). */
export interface BudgetSettings {
  budgets: readonly BudgetSpec[];
  period: BudgetPeriod;
}

/**
 * Reads the spend counters and the budgets in one go. Rejects when Redis does.
 *
 * @example
 * ```ts
 * import type { Redis } from "ioredis";
 * import { readFleetSpend } from "./spend.ts";
 *
 * // Needs a Redis server, so it is a function: `deno test --doc` type-checks it, never calls it.
 * async function spentToday(redis: Redis): Promise<number> {
 *   const spend = await readFleetSpend(redis, { budgets: [], period: { unit: "day", startsAtMinute: 0 } });
 *   return spend.today.reduce((sum, row) => sum + row.usd, 0);
 * }
 * ```
 */
export async function readFleetSpend(
  redis: RedisClient,
  settings: BudgetSettings,
  now: number = Date.now(),
): Promise<Spend> {
  const [spend, budgets] = await Promise.all([
    readSpend(redis, now),
    readBudgets(redis, [...settings.budgets], settings.period, now),
  ]);
  return { ...spend, budgets };
}
