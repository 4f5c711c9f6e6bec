/** The decisions around an LLM call's cost, as pure functions: whether it may be made, what holds it back, whether a failed one was billed. */

import { LlmError } from "../../providers/errors.ts";
import type { Admission } from "./spending.ts";

/** How long a job waits when only the reservations of calls in flight keep it from a budget. */
export const RESERVATIONS_WAIT_MS = 2000;

/** A provider's 429 that says to come back later than this pauses the provider instead. */
export const RATE_LIMIT_WAIT_MAX_MS = 60_000;
/** The shortest wait a 429 gets, whatever its `retry-after` (0, or a date past). */
export const RATE_LIMIT_WAIT_MIN_MS = 1000;

/** What keeps a call from being made now. */
export type HeldBack =
  /**
   * The fleet's rate limit, a 429's reset (`fromProvider`), or calls in flight: no call was
   * made, or none that was answered.
   */
  | { kind: "wait"; waitMs: number; reason: string; fromProvider?: boolean }
  /** A budget is spent: no call was made. */
  | { kind: "budget"; admission: Extract<Admission, { reason: "budget" }> };

/**
 * What a refused admission means for the job: a rate limit's wait; a wait of
 * `RESERVATIONS_WAIT_MS` when only the reservations of calls in flight stand in the way (they
 * settle, mostly far below their worst case, within a call's time); else the budget is spent.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { heldBack } from "./call_decisions.ts";
 *
 * const budget = {
 *   admitted: false as const, reason: "budget" as const, budget: "overall",
 *   scope: { scope: "overall" as const, limitUsd: 1 }, limitUsd: 1, spentUsd: 0.5,
 *   reservedUsd: 0.45, resetAtMs: 0,
 * };
 * assert.equal(heldBack(budget, 0.1).kind, "wait");
 * assert.equal(heldBack({ ...budget, spentUsd: 0.95 }, 0.1).kind, "budget");
 * ```
 */
export function heldBack(
  admission: Exclude<Admission, { admitted: true }>,
  worstCaseUsd: number | undefined,
): HeldBack {
  if (admission.reason === "rate_limit") {
    return { kind: "wait", waitMs: admission.waitMs, reason: `rate limit ${admission.limit}` };
  }
  if (admission.spentUsd + (worstCaseUsd ?? 0) <= admission.limitUsd) {
    return {
      kind: "wait",
      waitMs: RESERVATIONS_WAIT_MS,
      reason: `budget ${admission.budget}: $${
        admission.reservedUsd.toFixed(4)
      } reserved by calls in flight`,
    };
  }
  return { kind: "budget", admission };
}

/**
 * Why a job's own ceiling (`max_cost_usd`) forbids its call, or `undefined` when it allows it
 * (or the job has none). A model without a price cannot be kept under a ceiling.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { ceilingProblem } from "./call_decisions.ts";
 *
 * const call = { provider: "claude", model: "claude-haiku-4-5", maxOutputTokens: 4096 };
 * assert.equal(ceilingProblem(undefined, 0.5, call), undefined);
 * assert.equal(ceilingProblem(0.1, 0.05, call), undefined);
 * assert.match(ceilingProblem(0.01, 0.05, call)!, /up to \$0\.050000 .* over the job's max_cost_usd \$0\.01/);
 * assert.match(ceilingProblem(0.01, undefined, call)!, /has no price/);
 * ```
 */
export function ceilingProblem(
  maxCostUsd: number | undefined,
  worstCaseUsd: number | undefined,
  call: { provider: string; model: string | undefined; maxOutputTokens: number },
): string | undefined {
  if (maxCostUsd === undefined) return undefined;
  if (worstCaseUsd === undefined) {
    return `max_cost_usd cannot be kept: ${call.provider} model ${
      call.model ?? "(default)"
    } has no price (LLM_PRICES)`;
  }
  if (worstCaseUsd <= maxCostUsd) return undefined;
  return `this call may cost up to $${
    worstCaseUsd.toFixed(6)
  } (its prompt and max_tokens ${call.maxOutputTokens} at the model's price), over the job's max_cost_usd $${maxCostUsd}: lower provider.max_tokens or raise max_cost_usd`;
}

/** The failure classes of a call answered with an HTTP error before any work. */
const UNBILLED = new Set(["invalid", "auth", "quota", "billing", "overloaded"]);

/**
 * Whether a failed call may have been billed: an HTTP error answered before any work was not; a
 * timeout, a broken connection or an answer that came and was refused may have been (a budget
 * then counts its worst case).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { mayHaveBeenBilled } from "./call_decisions.ts";
 * import { LlmError } from "../../providers/errors.ts";
 *
 * assert.equal(mayHaveBeenBilled(new LlmError("overloaded", "HTTP 529: overloaded")), false);
 * assert.equal(mayHaveBeenBilled(new LlmError("transient", "HTTP 500: internal error")), false);
 * assert.equal(mayHaveBeenBilled(new LlmError("transient", "timed out after 300 s")), true);
 * assert.equal(mayHaveBeenBilled(new Error("socket hang up")), true);
 * ```
 */
export function mayHaveBeenBilled(error: unknown): boolean {
  if (!(error instanceof LlmError)) return true;
  return !(UNBILLED.has(error.kind) || /^HTTP [45]\d\d/.test(error.message));
}

/**
 * Why a call can never be admitted by a budget — its worst case alone is more than the whole
 * budget — or `undefined`. Such a job fails at once rather than pause the provider every period.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { unaffordable } from "./call_decisions.ts";
 *
 * const budget = {
 *   admitted: false as const, reason: "budget" as const, budget: "provider claude",
 *   scope: { scope: "provider" as const, provider: "claude", limitUsd: 1 }, limitUsd: 1,
 *   spentUsd: 0, reservedUsd: 0, resetAtMs: 0,
 * };
 * assert.equal(unaffordable(budget, 0.5, 4096), undefined);
 * assert.match(unaffordable(budget, 1.6, 32000)!, /up to \$1\.600000 .* more than the whole budget provider claude \(\$1\)/);
 * ```
 */
export function unaffordable(
  admission: Exclude<Admission, { admitted: true }>,
  worstCaseUsd: number | undefined,
  maxOutputTokens: number,
): string | undefined {
  if (admission.reason !== "budget" || worstCaseUsd === undefined) return undefined;
  if (worstCaseUsd <= admission.limitUsd) return undefined;
  return `this call may cost up to $${
    worstCaseUsd.toFixed(6)
  } (its prompt and ${maxOutputTokens} output tokens at the model's price), more than the whole budget ${admission.budget} ($${admission.limitUsd}): lower provider.max_tokens or raise LLM_BUDGET_USD`;
}

/**
 * What a failed call cost for the budgets: what the provider reported (the Claude CLI), 0 when
 * it cannot have been billed, `undefined` (its worst case) when it may have been.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { failureCostUsd } from "./call_decisions.ts";
 * import { LlmError } from "../../providers/errors.ts";
 *
 * assert.equal(failureCostUsd(new LlmError("invalid", "max_cost_usd reached", undefined, 0.0013)), 0.0013);
 * assert.equal(failureCostUsd(new LlmError("overloaded", "HTTP 529: overloaded")), 0);
 * assert.equal(failureCostUsd(new LlmError("transient", "timed out after 300 s")), undefined);
 * ```
 */
export function failureCostUsd(error: unknown): number | undefined {
  if (error instanceof LlmError && error.costUsd !== undefined) return error.costUsd;
  return mayHaveBeenBilled(error) ? undefined : 0;
}

/**
 * How long the fleet waits after a provider's 429 with a reset time: at least
 * `RATE_LIMIT_WAIT_MIN_MS`; `undefined` for a 429 that is not a short rate limit (no reset time,
 * or one more than `RATE_LIMIT_WAIT_MAX_MS` away: a usage limit, which pauses the provider and
 * shows in /health).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { rateLimitWaitMs } from "./call_decisions.ts";
 * import { LlmError } from "../../providers/errors.ts";
 *
 * assert.equal(rateLimitWaitMs(new LlmError("quota", "HTTP 429", 0)), 1000);
 * assert.equal(rateLimitWaitMs(new LlmError("quota", "HTTP 429", 7000)), 7000);
 * assert.equal(rateLimitWaitMs(new LlmError("quota", "HTTP 429", 5 * 3_600_000)), undefined);
 * assert.equal(rateLimitWaitMs(new LlmError("quota", "HTTP 429")), undefined);
 * assert.equal(rateLimitWaitMs(new LlmError("overloaded", "HTTP 529", 1000)), undefined);
 * ```
 */
export function rateLimitWaitMs(error: LlmError): number | undefined {
  if (error.kind !== "quota" || error.retryAfterMs === undefined) return undefined;
  if (error.retryAfterMs > RATE_LIMIT_WAIT_MAX_MS) return undefined;
  return Math.max(RATE_LIMIT_WAIT_MIN_MS, error.retryAfterMs);
}
