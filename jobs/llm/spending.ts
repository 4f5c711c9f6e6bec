/**
 * What an LLM job's call may spend and did spend, as the runner sees it: the fleet's admission
 * (budgets, rate limits), the prices, and the result cache, behind one interface the worker
 * builds from the configuration.
 */

import type { Admission, CallPlan, Outcome } from "../../economics/admission.ts";
import type { CachedAnswer } from "../../economics/result_cache.ts";
import type { Usage } from "../../providers/provider.ts";

export type { Admission, CallPlan };

/** The fleet's shared budgets, rate limits and spend counters (in Redis). */
export interface FleetLedger {
  /** Whether any budget or rate limit applies to calls of `provider` in `queue`: else `admit` is skipped. */
  hasLimits(provider: string, queue: string, rateKey: string | undefined): boolean;
  /** Whether a budget applies to calls of `provider` in `queue`. */
  hasBudget(provider: string, queue: string): boolean;
  /** Whether a rate limit applies to `provider`'s `model` (a 429 then feeds its buckets). */
  hasRateLimit(provider: string, model: string): boolean;
  admit(plan: CallPlan): Promise<Admission>;
  /**
   * The answer stored under `cacheKey` (the result cache's JSON), admitting nothing; else the
   * call's admission, as `admit` gives it. One round trip for both.
   */
  admitUnlessCached(plan: CallPlan, cacheKey: string): Promise<Admission | { cached: string }>;
  /** Settles the reservation to the real cost, and counts the call's spend (always, limits or not). */
  settle(plan: CallPlan, outcome: Outcome): Promise<unknown>;
  /** A provider's 429 with a reset time: the whole fleet's buckets of that model wait until then. */
  blockUntil(provider: string, model: string, retryAfterMs: number): Promise<void>;
}

/** The prices of the models, as the runner asks for them. */
export interface Pricing {
  /**
   * What a call's usage cost in US dollars, times `multiplier` (the batch lane's
   * `BATCH_PRICE_SHARE`); `undefined` when the model has no price.
   */
  costOf(provider: string, model: string, usage: Usage, multiplier?: number): number | undefined;
  /**
   * The most a call can cost: every input token at the dearest input rate, `maxOutputTokens` at
   * the output rate. With no model named, the dearest model of the provider. `undefined`: no price.
   */
  worstCaseUsd(
    provider: string,
    model: string | undefined,
    inputTokens: number,
    maxOutputTokens: number,
  ): number | undefined;
}

/** The result cache, as the runner uses it. */
export interface ResultCache {
  read(key: string): Promise<CachedAnswer | undefined>;
  store(key: string, answer: CachedAnswer): Promise<void>;
  /** Forgets an answer that no longer fits its job's schema. */
  drop(key: string): Promise<void>;
}
