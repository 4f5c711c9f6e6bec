/** What the fleet's LLM calls spent (per model and queue, today and in total) and what is left of each budget, read for `info` and the dashboard. */

import type { RedisClient } from "../redis/connection.ts";
import { budgetName, type BudgetSpec } from "../config/economics_rules.ts";
import { type BudgetPeriod, dayOf, periodOf, type PeriodWindow } from "./budget_period.ts";
import {
  budgetReservationsKey,
  budgetReservedKey,
  budgetSpentKey,
  parseSpendField,
  reservedField,
  SPEND_METRICS,
  SPEND_TOTAL_KEY,
  spendDayKey,
  spendField,
  type SpendMetric,
} from "./keys.ts";
import type { Usage } from "../providers/provider.ts";

export type { Usage };

/**
 * `usage` in whole tokens, as the counters keep them: each count rounded, and one that is not a
 * number ≥ 0 (a provider's odd report) taken as 0 rather than failing the call's settlement.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { wholeTokens } from "./spend.ts";
 *
 * assert.deepEqual(
 *   wholeTokens({
 *     input_tokens: 10.4,
 *     output_tokens: NaN,
 *     cache_creation_input_tokens: -1,
 *     cache_read_input_tokens: 3,
 *   }),
 *   { input_tokens: 10, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 3 },
 * );
 * ```
 */
export function wholeTokens(usage: Usage): Usage {
  const whole = (count: number) => Number.isFinite(count) && count > 0 ? Math.round(count) : 0;
  return {
    input_tokens: whole(usage.input_tokens),
    output_tokens: whole(usage.output_tokens),
    cache_creation_input_tokens: whole(usage.cache_creation_input_tokens),
    cache_read_input_tokens: whole(usage.cache_read_input_tokens),
  };
}

/** What a group of calls spent and used. */
export interface SpendTotals {
  /** The dollars of the calls whose cost is known. */
  usd: number;
  calls: number;
  /** Calls whose cost is unknown (a model without a price): not in `usd`, never counted as free. */
  unknownCostCalls: number;
  /**
   * Calls that failed (an error, a timeout): not in `calls`; in `usd` only when their cost is
   * known (the Claude CLI reports it). A budget counts one whose cost is unknown at its worst case.
   */
  failedCalls: number;
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/** What one provider's model spent. */
export type SpendRow = { provider: string; model: string } & SpendTotals;

/** What the LLM calls of one queue spent. */
export type QueueSpendRow = { queue: string } & SpendTotals;

/** The spend of the fleet, per model and per queue, sorted by name. */
export interface SpendReport {
  /** The UTC day of `today`: `2026-12-06`. */
  day: string;
  today: SpendRow[];
  total: SpendRow[];
  todayByQueue: QueueSpendRow[];
  totalByQueue: QueueSpendRow[];
}

/** How long a day's spend counters are kept after the day ends. */
export const SPEND_DAY_KEEP_MS = 40 * 86_400_000;

const FIELD_OF_METRIC: Record<SpendMetric, keyof SpendTotals> = {
  usd: "usd",
  calls: "calls",
  unknown_cost_calls: "unknownCostCalls",
  failed_calls: "failedCalls",
  input_tokens: "input_tokens",
  output_tokens: "output_tokens",
  cache_creation_input_tokens: "cache_creation_input_tokens",
  cache_read_input_tokens: "cache_read_input_tokens",
};

/** What one settled call adds to the spend counters: `[field, increment]` pairs. */
export interface SpendIncrements {
  /** Dollars: `HINCRBYFLOAT`. */
  floats: [field: string, increment: number][];
  /** Calls and tokens: `HINCRBY`. */
  integers: [field: string, increment: number][];
}

/**
 * What one settled call adds to the spend counters of its model and of its queue: one call, its
 * cost when known (else one call of unknown cost), and the tokens it used. Counters that would
 * not change are left out.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { spendIncrements } from "./spend.ts";
 *
 * const call = { provider: "claude", model: "claude-x", queue: "llm" };
 * assert.deepEqual(spendIncrements(call, { costUsd: undefined }), {
 *   floats: [],
 *   integers: [
 *     ["model:calls:claude/claude-x", 1],
 *     ["model:unknown_cost_calls:claude/claude-x", 1],
 *     ["queue:calls:llm", 1],
 *     ["queue:unknown_cost_calls:llm", 1],
 *   ],
 * });
 * ```
 */
export function spendIncrements(
  call: { provider: string; model: string; queue: string },
  outcome: { costUsd: number | undefined; usage?: Usage; failed?: boolean },
): SpendIncrements {
  const amounts = SPEND_METRICS.map((metric): [SpendMetric, number] => {
    switch (metric) {
      case "usd":
        return [metric, outcome.costUsd ?? 0];
      case "calls":
        return [metric, outcome.failed ? 0 : 1];
      case "unknown_cost_calls":
        return [metric, !outcome.failed && outcome.costUsd === undefined ? 1 : 0];
      case "failed_calls":
        return [metric, outcome.failed ? 1 : 0];
      default:
        return [metric, outcome.usage?.[metric] ?? 0];
    }
  }).filter(([, amount]) => amount !== 0);
  const subjects = [
    { kind: "model" as const, provider: call.provider, model: call.model },
    { kind: "queue" as const, queue: call.queue },
  ];
  const increments: SpendIncrements = { floats: [], integers: [] };
  for (const subject of subjects) {
    for (const [metric, amount] of amounts) {
      const list = metric === "usd" ? increments.floats : increments.integers;
      list.push([spendField(metric, subject), amount]);
    }
  }
  return increments;
}

function noSpend(): SpendTotals {
  return {
    usd: 0,
    calls: 0,
    unknownCostCalls: 0,
    failedCalls: 0,
    input_tokens: 0,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };
}

/**
 * The rows of one spend hash (as `HGETALL` returns it), per model and per queue, sorted by name.
 * Fields of another layout are skipped.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { spendRows } from "./spend.ts";
 *
 * const rows = spendRows({ "model:usd:claude/claude-x": "0.25", "queue:calls:llm": "3" });
 * assert.equal(rows.models[0].usd, 0.25);
 * assert.equal(rows.queues[0].calls, 3);
 * ```
 */
export function spendRows(
  hash: Record<string, string>,
): { models: SpendRow[]; queues: QueueSpendRow[] } {
  const models = new Map<string, SpendRow>();
  const queues = new Map<string, QueueSpendRow>();
  for (const [field, raw] of Object.entries(hash)) {
    const parsed = parseSpendField(field);
    const value = Number(raw);
    if (!parsed || !Number.isFinite(value)) continue;
    const { metric, subject } = parsed;
    let row: SpendTotals;
    if (subject.kind === "model") {
      const name = `${subject.provider}/${subject.model}`;
      row = models.get(name) ??
        models.set(name, { provider: subject.provider, model: subject.model, ...noSpend() })
          .get(name)!;
    } else {
      row = queues.get(subject.queue) ??
        queues.set(subject.queue, { queue: subject.queue, ...noSpend() }).get(subject.queue)!;
    }
    row[FIELD_OF_METRIC[metric]] += value;
  }
  const byName = <T>(map: Map<string, T>) =>
    [...map.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([, row]) => row);
  return { models: byName(models), queues: byName(queues) };
}

/**
 * What the fleet's LLM calls spent today (the UTC day of `nowMs`) and in total, per model and
 * per queue, in one round trip. Calls count once they are settled.
 *
 * @example
 * ```ts
 * import type { Redis } from "ioredis";
 * import { readSpend } from "./spend.ts";
 *
 * // Needs a Redis server, so it is a function: `deno test --doc` type-checks it, never calls it.
 * async function dollarsToday(redis: Redis): Promise<number> {
 *   const spend = await readSpend(redis, Date.now());
 *   return spend.today.reduce((sum, row) => sum + row.usd, 0);
 * }
 * ```
 */
export async function readSpend(redis: RedisClient, nowMs: number): Promise<SpendReport> {
  const day = dayOf(nowMs).id;
  const replies = await redis.multi().hgetall(spendDayKey(day)).hgetall(SPEND_TOTAL_KEY).exec();
  const [today, total] = (replies ?? []).map(([error, hash]) => {
    if (error) throw error;
    return spendRows(hash as Record<string, string>);
  });
  return {
    day,
    today: today.models,
    total: total.models,
    todayByQueue: today.queues,
    totalByQueue: total.queues,
  };
}

/** Where one budget stands in its period. */
export interface BudgetState {
  /** `overall`, `provider claude`, `queue llm`. */
  budget: string;
  scope: BudgetSpec;
  limitUsd: number;
  /** Settled calls at their cost, and expired reservations (a worker that died mid-call) at their worst case. */
  spentUsd: number;
  /** The worst cases of the calls in flight. */
  reservedUsd: number;
  /** What a new call may still reserve: `limitUsd − spentUsd − reservedUsd`, never below 0. */
  leftUsd: number;
  /** When the period ends and the budget starts over. */
  resetAtMs: number;
  periodId: string;
}

/** A budget's keys as read: its spent counter, its reservations' amounts and expiries. */
export interface BudgetReading {
  spent: string | null;
  /** `HGETALL` of {@link budgetReservedKey}. */
  amounts: Record<string, string>;
  /** `ZRANGE … WITHSCORES` of {@link budgetReservationsKey}: call id, expiry, call id, … */
  expiries: string[];
}

/**
 * Where a budget stands, from its keys as read at `nowMs`. A reservation that has expired counts
 * as spent at its worst case, as the next admission will count it.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { budgetStateOf } from "./spend.ts";
 *
 * const reading = {
 *   spent: "2",
 *   amounts: { "call:a": "1", "call:b": "0.5", total: "1.5" },
 *   expiries: ["a", "1000", "b", "9000"],
 * };
 * const window = { id: "2026-12-06", startMs: 0, endMs: 86_400_000 };
 * const state = budgetStateOf({ scope: "overall", limitUsd: 10 }, reading, window, 5000);
 * assert.deepEqual([state.spentUsd, state.reservedUsd, state.leftUsd], [3, 0.5, 6.5]);
 * ```
 */
export function budgetStateOf(
  spec: BudgetSpec,
  reading: BudgetReading,
  window: PeriodWindow,
  nowMs: number,
): BudgetState {
  let spentUsd = Number(reading.spent ?? 0);
  let reservedUsd = 0;
  for (let index = 0; index + 1 < reading.expiries.length; index += 2) {
    const amount = Number(reading.amounts[reservedField(reading.expiries[index])] ?? 0);
    if (Number(reading.expiries[index + 1]) <= nowMs) spentUsd += amount;
    else reservedUsd += amount;
  }
  return {
    budget: budgetName(spec),
    scope: spec,
    limitUsd: spec.limitUsd,
    spentUsd,
    reservedUsd,
    leftUsd: Math.max(0, spec.limitUsd - spentUsd - reservedUsd),
    resetAtMs: window.endMs,
    periodId: window.id,
  };
}

/**
 * Where each budget stands in the period of `nowMs`, in one round trip (`MULTI`, so the
 * readings of all budgets are of one moment). Reads only: expired reservations are counted,
 * not removed.
 *
 * @example
 * ```ts
 * import type { Redis } from "ioredis";
 * import { readBudgets } from "./spend.ts";
 *
 * // Needs a Redis server, so it is a function: `deno test --doc` type-checks it, never calls it.
 * async function overallLeftUsd(redis: Redis): Promise<number | undefined> {
 *   const budgets = [{ scope: "overall", limitUsd: 50 } as const];
 *   const [state] = await readBudgets(redis, budgets, { unit: "day", startsAtMinute: 0 }, Date.now());
 *   return state?.leftUsd;
 * }
 * ```
 */
export async function readBudgets(
  redis: RedisClient,
  budgets: readonly BudgetSpec[],
  period: BudgetPeriod,
  nowMs: number,
): Promise<BudgetState[]> {
  if (budgets.length === 0) return [];
  const window = periodOf(period, nowMs);
  const multi = redis.multi();
  for (const spec of budgets) {
    multi.get(budgetSpentKey(spec, window.id))
      .hgetall(budgetReservedKey(spec))
      .zrange(budgetReservationsKey(spec), 0, -1, "WITHSCORES");
  }
  const replies = (await multi.exec() ?? []).map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
  return budgets.map((spec, index) => {
    const [spent, amounts, expiries] = replies.slice(index * 3, index * 3 + 3);
    return budgetStateOf(
      spec,
      {
        spent: spent as string | null,
        amounts: amounts as Record<string, string>,
        expiries: expiries as string[],
      },
      window,
      nowMs,
    );
  });
}
