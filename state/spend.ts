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

/**
 * What calls cost, as `info`, the dashboard's tables and its spend chart say it: the dollars of
 * the priced calls, the unpriced ones apart, and never $0 for calls that all lack a price.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { costText } from "./spend.ts";
 *
 * assert.equal(costText({ usd: 0.01234, calls: 3, unknownCostCalls: 0 }), "$0.0123");
 * assert.equal(costText({ usd: 0.5, calls: 3, unknownCostCalls: 1 }), "$0.5000 + 1 unpriced call");
 * assert.equal(costText({ usd: 0, calls: 2, unknownCostCalls: 2 }), "unpriced (2 calls)");
 * assert.equal(costText({ usd: 0, calls: 4, unknownCostCalls: 0 }), "$0.0000");
 * ```
 */
export function costText(
  spend: Pick<SpendRow, "usd" | "calls" | "unknownCostCalls">,
): string {
  const unpriced = spend.unknownCostCalls;
  const calls = (count: number) => `${count} unpriced call${count === 1 ? "" : "s"}`;
  if (unpriced > 0 && unpriced >= spend.calls && spend.usd === 0) {
    return `unpriced (${unpriced} call${unpriced === 1 ? "" : "s"})`;
  }
  const dollars = `$${spend.usd.toFixed(4)}`;
  return unpriced > 0 ? `${dollars} + ${calls(unpriced)}` : dollars;
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
