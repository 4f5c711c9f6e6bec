/** The `Spending` of one worker process, made from the configuration: the fleet's ledger in Redis, the price table, the result cache. */

import type { Logger } from "@logtape/logtape";
import type { RedisClient } from "../../redis/connection.ts";
import type { Config } from "../../config/config.ts";
import type { RateLimitSpec } from "../../config/economics_rules.ts";
import { createEconomics } from "../../economics/admission.ts";
import { costOf, priceOf, type PriceTable, worstCaseUsd } from "../../economics/prices.ts";
import { readCachedAnswer, storeCachedAnswer } from "../../economics/result_cache.ts";
import type { Usage } from "../../providers/provider.ts";
import type { Spending } from "./runner.ts";
import type { FleetLedger, Pricing } from "./spending.ts";

/** How long past `LLM_TIMEOUT` a call's reservation lives before it counts as spent at its worst case. */
export const RESERVATION_MARGIN_MS = 60_000;

/**
 * The prices of `table` as the runner asks for them. With no model named (the Claude CLI picks
 * its own), the worst case is that of the provider's dearest model.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { pricingOf } from "./spending_of.ts";
 *
 * const pricing = pricingOf({
 *   date: "2026-12-01",
 *   source: "example",
 *   models: {
 *     "claude/small": { input: 1, output: 5, cache_write: 1.25, cache_read: 0.1 },
 *     "claude/large": { input: 5, output: 25, cache_write: 6.25, cache_read: 0.5 },
 *   },
 * });
 * assert.equal(pricing.worstCaseUsd("claude", "small", 1_000_000, 0), 1.25);
 * assert.equal(pricing.worstCaseUsd("claude", undefined, 0, 1_000_000), 25);
 * assert.equal(pricing.costOf("claude", "unknown-model", { input_tokens: 1, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }), undefined);
 * ```
 */
export function pricingOf(table: PriceTable): Pricing {
  const dearest = (provider: string) =>
    Object.entries(table.models)
      .filter(([name]) => name.startsWith(`${provider}/`))
      .map(([, price]) => price);
  return {
    costOf(provider: string, model: string, usage: Usage, multiplier?: number) {
      const price = priceOf(table, provider, model);
      return price && costOf(usage, price, { multiplier });
    },
    worstCaseUsd(provider, model, inputTokens, maxOutputTokens) {
      if (model !== undefined) {
        const price = priceOf(table, provider, model);
        return price && worstCaseUsd(price, inputTokens, maxOutputTokens);
      }
      const all = dearest(provider).map((price) =>
        worstCaseUsd(price, inputTokens, maxOutputTokens)
      );
      return all.length === 0 ? undefined : Math.max(...all);
    },
  };
}

/**
 * The share of a configured rate limit the fleet uses: a call's input tokens are an estimate
 * until it is answered, and the provider counts with its own tokenizer and clock, so the fleet
 * keeps 5 % below the limit rather than at its edge.
 */
export const RATE_LIMIT_SHARE = 0.95;

/**
 * `LLM_RATE_LIMITS` as the fleet applies them: each limit times `RATE_LIMIT_SHARE`, rounded
 * down, at least 1.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { appliedRateLimits } from "./spending_of.ts";
 *
 * assert.deepEqual(
 *   appliedRateLimits([{ scope: "provider", provider: "claude", limits: { rpm: 1, itpm: 30_000 } }]),
 *   [{ scope: "provider", provider: "claude", limits: { rpm: 1, itpm: 28_500 } }],
 * );
 * ```
 */
export function appliedRateLimits(specs: readonly RateLimitSpec[]): RateLimitSpec[] {
  return specs.map((spec) => ({
    ...spec,
    limits: Object.fromEntries(
      Object.entries(spec.limits).map((
        [unit, limit],
      ) => [unit, Math.max(1, Math.floor(limit * RATE_LIMIT_SHARE))]),
    ),
  }));
}

/** The fleet's ledger of `config`'s budgets and rate limits, in `redis`. */
export function ledgerOf(
  config: Config,
  redis: RedisClient,
  options: {
    /**
     * How long a call's reservation lasts before it counts as spent at its worst case (a worker
     * that died mid-call). @default {LLM_TIMEOUT plus RESERVATION_MARGIN_MS}
     */
    reservationTtlMs?: number;
    /** Whether `LLM_RATE_LIMITS` apply (the batch lane has the provider's own limits). @default {true} */
    rateLimits?: boolean;
  } = {},
): FleetLedger {
  const budgets = config.llmBudgets ?? [];
  const rateLimits = options.rateLimits === false ? [] : config.llmRateLimits ?? [];
  const economics = createEconomics({
    redis,
    budgets,
    period: config.llmBudgetPeriod,
    rateLimits: appliedRateLimits(rateLimits),
    reservationTtlMs: options.reservationTtlMs ?? config.llmTimeoutMs + RESERVATION_MARGIN_MS,
  });
  const budgeted = (provider: string, queue: string) =>
    budgets.some((budget) =>
      budget.scope === "overall" ||
      (budget.scope === "provider" && budget.provider === provider) ||
      (budget.scope === "queue" && budget.queue === queue)
    );
  const rateLimited = (provider: string, model: string) =>
    rateLimits.some((limit) =>
      (limit.scope === "provider" && limit.provider === provider) ||
      (limit.scope === "model" && limit.provider === provider && limit.model === model)
    );
  return {
    hasBudget: budgeted,
    hasRateLimit: rateLimited,
    hasLimits: (provider, queue, rateKey) =>
      budgeted(provider, queue) ||
      rateLimits.some((limit) =>
        limit.scope === "key" ? rateKey !== undefined : limit.provider === provider
      ),
    admit: (plan) => economics.admit(plan),
    admitUnlessCached: (plan, cacheKey) => economics.admitUnlessCached(plan, cacheKey),
    settle: (plan, outcome) => economics.settle(plan, outcome),
    blockUntil: (provider, model, retryAfterMs) =>
      economics.rateLimited(provider, model, retryAfterMs),
  };
}

/** Everything a worker's runner spends through, made once per process. */
export function spendingOf(
  config: Config,
  redis: RedisClient,
  prices: PriceTable,
  logger: Logger,
): Spending {
  const warned = new Set<string>();
  return {
    ledger: ledgerOf(config, redis),
    pricing: pricingOf(prices),
    cache: {
      read: (key) => readCachedAnswer(redis, key),
      store: (key, answer) => storeCachedAnswer(redis, key, answer, config.llmCacheTtlMs),
      drop: async (key) => void await redis.del(key),
    },
    warnNotRecorded(what, error) {
      logger.warn("{what} failed in Redis: {error}; the job's result stands", {
        what,
        error: error instanceof Error ? error.message : String(error),
      });
    },
    warnUnpriced(provider, model) {
      const key = `${provider}/${model}`;
      if (warned.has(key)) return;
      warned.add(key);
      logger.warn(
        "{model} has no price in the price table (dated {date}): its calls cost unknown, counted in ppr_llm_calls_unpriced_total; add it to LLM_PRICES",
        { model: key, date: prices.date },
      );
    },
  };
}
