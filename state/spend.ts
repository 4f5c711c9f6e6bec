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

/** What one provider's models spent together. */
export type ProviderSpend = Omit<SpendRow, "model">;

/**
 * `rows` (per model) summed per provider, in the order of the providers' first rows.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { spendByProvider } from "./spend.ts";
 *
 * const row = (model: string, usd: number, unknownCostCalls: number) => ({
 *   provider: "openai", model, usd, calls: 1, unknownCostCalls, failedCalls: 0,
 *   input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0,
 * });
 * const [openai] = spendByProvider([row("gpt-x", 0.5, 0), row("mystery", 0, 1)]);
 * assert.equal(openai.usd, 0.5);
 * assert.equal(openai.unknownCostCalls, 1);
 * assert.equal(openai.input_tokens, 20);
 * ```
 */
export function spendByProvider(rows: readonly SpendRow[]): ProviderSpend[] {
  const providers = new Map<string, ProviderSpend>();
  for (const { model: _model, ...row } of rows) {
    const sum = providers.get(row.provider);
    if (sum === undefined) {
      providers.set(row.provider, { ...row });
      continue;
    }
    for (const field of Object.keys(row) as (keyof ProviderSpend)[]) {
      if (field !== "provider") sum[field] += row[field];
    }
  }
  return [...providers.values()];
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
