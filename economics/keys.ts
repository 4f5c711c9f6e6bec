/**
 * The Redis keys of the LLM economics (budgets, rate buckets, spend counters): the one module
 * that knows their names and fields. Every key carries the hash tag `{llm}`, so that one
 * script's keys share a slot when Redis is a cluster.
 */

import type { BudgetScope, RateUnit } from "../config/economics_rules.ts";

/** What every economics key starts with; `{llm}` is the Redis Cluster hash tag. */
export const ECONOMICS_PREFIX = "ppr:{llm}:";

/** A budget's scope as its keys name it: `overall`, `provider:claude`, `queue:llm`. */
export function budgetId(scope: BudgetScope): string {
  if (scope.scope === "overall") return "overall";
  return scope.scope === "provider" ? `provider:${scope.provider}` : `queue:${scope.queue}`;
}

/**
 * What a budget has spent in one period (a float string, dollars; `INCRBYFLOAT`). The period id
 * is in the name, so a new period starts from nothing by itself; the key expires a while after
 * its period ends.
 */
export function budgetSpentKey(scope: BudgetScope, periodId: string): string {
  return `${ECONOMICS_PREFIX}budget:${budgetId(scope)}:spent:${periodId}`;
}

/**
 * A budget's live reservations: a sorted set of call ids scored by when each expires (ms).
 * Not per period: a reservation made before a reset is settled into the period it ends in.
 */
export function budgetReservationsKey(scope: BudgetScope): string {
  return `${ECONOMICS_PREFIX}budget:${budgetId(scope)}:reservations`;
}

/**
 * The amounts of a budget's reservations: a hash of `call:<callId>` → dollars, and their sum in
 * {@link RESERVED_TOTAL_FIELD}, kept so an admission reads one field instead of adding them all.
 */
export function budgetReservedKey(scope: BudgetScope): string {
  return `${ECONOMICS_PREFIX}budget:${budgetId(scope)}:reserved`;
}

/** The field of {@link budgetReservedKey} that holds the sum of the reservations. */
export const RESERVED_TOTAL_FIELD = "total";

/** What the fields of {@link budgetReservedKey} that hold one call's reservation start with. */
export const RESERVED_CALL_PREFIX = "call:";

/** The field of {@link budgetReservedKey} that holds one call's reservation. */
export function reservedField(callId: string): string {
  return `${RESERVED_CALL_PREFIX}${callId}`;
}

/**
 * A token bucket of one model: a hash of `tokens` (a float; below zero after a correction) and
 * `updated` (the ms `tokens` is true at; after a 429, the ms the bucket starts refilling).
 */
export function modelBucketKey(unit: RateUnit, provider: string, model: string): string {
  return `${ECONOMICS_PREFIX}rate:${unit}:model:${provider}/${model}`;
}

/** A token bucket of one `rate_key` (a job's metadata), laid out like {@link modelBucketKey}'s. */
export function rateKeyBucketKey(unit: RateUnit, rateKey: string): string {
  return `${ECONOMICS_PREFIX}rate:${unit}:key:${rateKey}`;
}

/** Until when (ms) a provider's 429 stops every call of one model, fleet-wide; gone after. */
export function rateBlockKey(provider: string, model: string): string {
  return `${ECONOMICS_PREFIX}rate:block:${provider}/${model}`;
}

/**
 * One call's state: `admitted`, then `settled`, for a while after either: what makes a repeated
 * admission or settlement of the same call count once.
 */
export function callKey(callId: string): string {
  return `${ECONOMICS_PREFIX}call:${callId}`;
}

/** The spend counters of one UTC day (`2026-12-06`): a hash of {@link spendField}s. */
export function spendDayKey(dayId: string): string {
  return `${ECONOMICS_PREFIX}spend:day:${dayId}`;
}

/** The spend counters since the start, laid out like {@link spendDayKey}'s. */
export const SPEND_TOTAL_KEY = `${ECONOMICS_PREFIX}spend:total`;

/** The counters kept per model and per queue; `usd` is a float, the others are integers. */
export const SPEND_METRICS = [
  "usd",
  "calls",
  "unknown_cost_calls",
  "failed_calls",
  "input_tokens",
  "output_tokens",
  "cache_creation_input_tokens",
  "cache_read_input_tokens",
] as const;

/** One of {@link SPEND_METRICS}. */
export type SpendMetric = typeof SPEND_METRICS[number];

/** Whose spend a counter holds: a provider's model, or a queue. */
export type SpendSubject =
  | { kind: "model"; provider: string; model: string }
  | { kind: "queue"; queue: string };

/**
 * The field of one counter in a spend hash: `model:<metric>:<provider>/<model>` or
 * `queue:<metric>:<queue>`. The metric and the provider hold no `:` or `/`, so a model name may
 * hold anything.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { parseSpendField, spendField } from "./keys.ts";
 *
 * const subject = { kind: "model", provider: "openai", model: "meta/llama-3:8b" } as const;
 * assert.equal(spendField("usd", subject), "model:usd:openai/meta/llama-3:8b");
 * assert.deepEqual(parseSpendField("model:usd:openai/meta/llama-3:8b"), { metric: "usd", subject });
 * ```
 */
export function spendField(metric: SpendMetric, subject: SpendSubject): string {
  return subject.kind === "model"
    ? `model:${metric}:${subject.provider}/${subject.model}`
    : `queue:${metric}:${subject.queue}`;
}

/** The metric and subject of a {@link spendField}; `undefined` for a field of another layout. */
export function parseSpendField(
  field: string,
): { metric: SpendMetric; subject: SpendSubject } | undefined {
  const match = /^(model|queue):([a-z_]+):(.+)$/s.exec(field);
  const metric = SPEND_METRICS.find((candidate) => candidate === match?.[2]);
  if (!match || !metric) return undefined;
  if (match[1] === "queue") return { metric, subject: { kind: "queue", queue: match[3] } };
  const slash = match[3].indexOf("/");
  if (slash <= 0) return undefined;
  const subject = {
    kind: "model" as const,
    provider: match[3].slice(0, slash),
    model: match[3].slice(slash + 1),
  };
  return { metric, subject };
}

/** The result cache's answer to the request whose SHA-256 is `sha256Hex`. */
export function resultCacheKeyOf(sha256Hex: string): string {
  return `${ECONOMICS_PREFIX}cache:${sha256Hex}`;
}
