/**
 * Admits an LLM call against the fleet's budgets and token-rate limits before it is made, and
 * settles it after: each step one Lua script, so one round trip and atomic for the whole fleet.
 */

import type { RedisClient } from "../redis/connection.ts";
import { createHash } from "node:crypto";
import {
  budgetName,
  type BudgetSpec,
  RATE_UNITS,
  type RateLimitSpec,
  type RateUnit,
} from "../config/economics_rules.ts";
import { type BudgetPeriod, dayOf, periodOf } from "./budget_period.ts";
import {
  budgetReservationsKey,
  budgetReservedKey,
  budgetSpentKey,
  callKey,
  modelBucketKey,
  rateBlockKey,
  rateKeyBucketKey,
  RESERVED_CALL_PREFIX,
  RESERVED_TOTAL_FIELD,
  SPEND_TOTAL_KEY,
  spendDayKey,
} from "./keys.ts";
import { SPEND_DAY_KEEP_MS, spendIncrements, type Usage, wholeTokens } from "./spend.ts";

export type { Usage };

/** One try of one LLM call, as admitted and then settled. */
export interface CallPlan {
  /** Unique per try: what makes a repeated admission or settlement count once. */
  callId: string;
  provider: string;
  model: string;
  queue: string;
  /** The job's `metadata.rate_key`: its calls share the `key` limits of `LLM_RATE_LIMITS`. */
  rateKey?: string;
  /** The estimated input tokens, counted against `itpm` up front and corrected at settlement. */
  inputTokens: number;
  /**
   * The call's `max_tokens`, counted against `otpm` up front (as Anthropic estimates output
   * tokens from it); the unused part is given back at settlement.
   */
  maxOutputTokens: number;
  /** What the call can cost at most; required when a budget applies to it. */
  worstCaseUsd?: number;
}

/** Whether a call may be made now, and if not, why and for how long. */
export type Admission =
  | { admitted: true }
  | {
    admitted: false;
    reason: "rate_limit";
    /** How long until the scarcest bucket holds what the call needs (or a 429's retry-after ends). */
    waitMs: number;
    /** `claude/claude-x itpm 30000`, `key site-a rpm 10`, `claude/claude-x retry-after`. */
    limit: string;
  }
  | {
    admitted: false;
    reason: "budget";
    /** `overall`, `provider claude`, `queue llm`. */
    budget: string;
    scope: BudgetSpec;
    limitUsd: number;
    spentUsd: number;
    /** The worst cases of the calls in flight. */
    reservedUsd: number;
    /** When the period ends and the budget starts over. */
    resetAtMs: number;
  };

/** What a call turned out to cost and use. */
export interface Outcome {
  /** `undefined`: the cost is unknown, and the budgets count the call at its worst case. */
  costUsd: number | undefined;
  /** `undefined`: unknown (the call failed), and the rate buckets keep what was counted up front. */
  usage?: Usage;
  /** The call failed: the spend counters count it as failed, not as a call answered. */
  failed?: boolean;
  /** The model that answered, when it is not the plan's (the Claude CLI picks its own): the spend counters' row. */
  answeredModel?: string;
}

/** The fleet's budgets and rate limits, kept in Redis. */
export interface Economics {
  /**
   * Admits the call if every rate bucket that applies holds what it needs and every budget that
   * applies has room for its worst case; then debits the buckets and reserves the worst case.
   * Otherwise takes nothing and says why (expired reservations it finds on the way are counted
   * as spent, which leaves the budget's sum as it was). A repeated admission of a call admitted
   * already is admitted again without counting twice. `nowMs` defaults to `Date.now()`.
   */
  admit(plan: CallPlan, nowMs?: number): Promise<Admission>;
  /**
   * Looks up `cacheKey` (the result cache's key of the call's answer) and returns what is stored
   * there, admitting nothing; else admits the call as `admit` does. One round trip for both.
   */
  admitUnlessCached(
    plan: CallPlan,
    cacheKey: string,
    nowMs?: number,
  ): Promise<Admission | { cached: string }>;
  /**
   * Settles an admitted call: its reservations become its real cost (its worst case when the cost
   * is unknown), the spend counters count it, and the buckets are corrected to the tokens it
   * used. `false`: settled already, nothing counted again. A call never admitted is counted in
   * the spend counters only. `nowMs` defaults to `Date.now()`.
   */
  settle(plan: CallPlan, outcome: Outcome, nowMs?: number): Promise<boolean>;
  /**
   * A provider's 429 with retry-after: every bucket of that provider/model is empty until then,
   * so the whole fleet waits, not only this worker; a model without limits of its own is held
   * until then too. `nowMs` defaults to `Date.now()`.
   */
  rateLimited(provider: string, model: string, retryAfterMs: number, nowMs?: number): Promise<void>;
}

/** What {@link createEconomics} needs. */
export interface EconomicsOptions {
  redis: RedisClient;
  /** `LLM_BUDGET_USD`. */
  budgets: readonly BudgetSpec[];
  /** `LLM_BUDGET_PERIOD`. */
  period: BudgetPeriod;
  /** `LLM_RATE_LIMITS`. */
  rateLimits: readonly RateLimitSpec[];
  /**
   * How long a reservation holds before it is counted as spent at its worst case: longer than a
   * call can take (`LLM_TIMEOUT` and a margin), as only a worker that died mid-call leaves one.
   */
  reservationTtlMs: number;
}

/** One token bucket a call draws from. */
export interface RateBucket {
  key: string;
  unit: RateUnit;
  /** The per-minute limit: what the bucket holds when full. */
  capacity: number;
  /** What the call takes, at most the capacity (so that a call larger than a bucket can ever fit). */
  need: number;
  /** The limit as messages name it: `claude/claude-x itpm 30000`, `key site-a rpm 10`. */
  limit: string;
}

/** What each unit takes from its bucket up front. */
function neededBy(plan: CallPlan, unit: RateUnit): number {
  if (unit === "rpm") return 1;
  return unit === "itpm" ? plan.inputTokens : plan.maxOutputTokens;
}

/**
 * The token buckets a call draws from: per unit, its model's entry or else its provider's (each
 * model its own bucket, as providers limit per model), and the `key` entry's bucket of its
 * `rateKey`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { rateBucketsOf } from "./admission.ts";
 *
 * const limits = [
 *   { scope: "provider", provider: "claude", limits: { rpm: 50, itpm: 30_000 } },
 *   { scope: "model", provider: "claude", model: "claude-x", limits: { itpm: 80_000 } },
 * ] as const;
 * const plan = { callId: "1", provider: "claude", model: "claude-x", queue: "llm", inputTokens: 900, maxOutputTokens: 100 };
 * assert.deepEqual(rateBucketsOf(plan, limits).map((bucket) => [bucket.limit, bucket.need]), [
 *   ["claude/claude-x rpm 50", 1],
 *   ["claude/claude-x itpm 80000", 900],
 * ]);
 * ```
 */
export function rateBucketsOf(plan: CallPlan, rateLimits: readonly RateLimitSpec[]): RateBucket[] {
  const providerEntry = rateLimits.find((spec) =>
    spec.scope === "provider" && spec.provider === plan.provider
  );
  const modelEntry = rateLimits.find((spec) =>
    spec.scope === "model" && spec.provider === plan.provider && spec.model === plan.model
  );
  const keyEntry = rateLimits.find((spec) => spec.scope === "key");
  const buckets: RateBucket[] = [];
  const add = (key: string, unit: RateUnit, capacity: number, name: string) =>
    buckets.push({
      key,
      unit,
      capacity,
      need: Math.min(neededBy(plan, unit), capacity),
      limit: `${name} ${unit} ${capacity}`,
    });
  for (const unit of RATE_UNITS) {
    const capacity = modelEntry?.limits[unit] ?? providerEntry?.limits[unit];
    if (capacity === undefined) continue;
    add(
      modelBucketKey(unit, plan.provider, plan.model),
      unit,
      capacity,
      `${plan.provider}/${plan.model}`,
    );
  }
  if (plan.rateKey) {
    for (const unit of RATE_UNITS) {
      const capacity = keyEntry?.limits[unit];
      if (capacity !== undefined) {
        add(rateKeyBucketKey(unit, plan.rateKey), unit, capacity, `key ${plan.rateKey}`);
      }
    }
  }
  return buckets;
}

/**
 * The budgets a call counts against: the overall one, its provider's and its queue's.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { budgetsOf } from "./admission.ts";
 *
 * const budgets = [
 *   { scope: "overall", limitUsd: 50 },
 *   { scope: "provider", provider: "openai", limitUsd: 10 },
 *   { scope: "queue", queue: "llm", limitUsd: 5 },
 * ] as const;
 * const plan = { callId: "1", provider: "claude", model: "claude-x", queue: "llm", inputTokens: 9, maxOutputTokens: 9 };
 * assert.deepEqual(budgetsOf(plan, budgets).map((budget) => budget.limitUsd), [50, 5]);
 * ```
 */
export function budgetsOf(plan: CallPlan, budgets: readonly BudgetSpec[]): BudgetSpec[] {
  return budgets.filter((budget) =>
    budget.scope === "overall" ||
    (budget.scope === "provider" && budget.provider === plan.provider) ||
    (budget.scope === "queue" && budget.queue === plan.queue)
  );
}

/**
 * What settling takes from each bucket (below zero: gives back): for input tokens, what the
 * call used (uncached input and cache writes, the tokens Anthropic counts against ITPM) minus
 * what was taken up front; for output tokens, what it produced minus what was taken; requests
 * stay counted. Nothing when the usage is unknown.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { bucketCorrections } from "./admission.ts";
 *
 * const buckets = [
 *   { key: "a", unit: "itpm", capacity: 30_000, need: 1000, limit: "" },
 *   { key: "b", unit: "otpm", capacity: 8000, need: 4096, limit: "" },
 * ] as const;
 * const usage = {
 *   input_tokens: 900,
 *   output_tokens: 96,
 *   cache_creation_input_tokens: 200,
 *   cache_read_input_tokens: 5000,
 * };
 * assert.deepEqual(bucketCorrections(buckets, usage), [100, -4000]);
 * ```
 */
export function bucketCorrections(buckets: readonly RateBucket[], usage?: Usage): number[] {
  return buckets.map((bucket) => {
    if (!usage || bucket.unit === "rpm") return 0;
    const used = bucket.unit === "itpm"
      ? usage.input_tokens + (usage.cache_creation_input_tokens ?? 0)
      : usage.output_tokens;
    return used - bucket.need;
  });
}

// A budget's spent counter outlives its period by this much, for `info` to show the last one.
const BUDGET_KEEP_AFTER_END_MS = 2 * 86_400_000;
// A budget's reservations outlive their last write by this much: longer than any period, so that
// the reservation of a worker that died is counted when found, not lost with its key.
const RESERVATIONS_KEEP_MS = 35 * 86_400_000;

// The state of a token bucket at `now`: the tokens (a float, below zero after a correction) and
// the ms they are true at (later than `now` after a 429: the bucket refills from then). A bucket
// with no key is full; it refills continuously at capacity per minute. `store` lets the key
// expire when the bucket would be full again, which is the same as no key.
const BUCKET_LUA = `
local function bucket(key, capacity, now)
  local state = redis.call('HMGET', key, 'tokens', 'updated')
  local tokens, updated = tonumber(state[1]), tonumber(state[2])
  if tokens == nil or updated == nil then return capacity, now end
  if now > updated then
    tokens = math.min(capacity, tokens + (now - updated) * capacity / 60000)
    updated = now
  end
  return tokens, updated
end
local function store(key, capacity, tokens, updated, now)
  redis.call('HSET', key, 'tokens', tokens, 'updated', updated)
  local full = math.ceil((capacity - tokens) * 60000 / capacity + math.max(0, updated - now))
  redis.call('PEXPIRE', key, full + 1000)
end
`;

// Takes a settled or expired reservation off a budget's sum; with none left, drops the sum too,
// so that float rounding never accumulates in it.
const RELEASE_LUA = `
local function release(reservations, reserved, amount)
  if redis.call('ZCARD', reservations) == 0 then
    redis.call('DEL', reserved)
  else
    redis.call('HINCRBYFLOAT', reserved, '${RESERVED_TOTAL_FIELD}', -amount)
  end
end
`;

/**
 * KEYS: call, block, bucket × n, (spent, reservations, reserved) × m.
 * ARGV: now, callId, callTtlMs, reservation expiry, worst case, n, m, reservations keep ms,
 * (capacity, need) × n, (limit, spent expiry) × m.
 * Returns {'admitted'}, {'budget', j, spent, reserved} or {'rate', waitMs, i} (i = 0: the block).
 */
const ADMIT_BODY = `
local now, callId, worst = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[5])
local n, m = tonumber(ARGV[6]), tonumber(ARGV[7])
if redis.call('EXISTS', KEYS[1]) == 1 then return {'admitted'} end
local budgetKeys, budgetArgs = 2 + n, 8 + 2 * n
local inFlight = {}
-- Budgets first: a spent budget is the longer wait, and the reason its provider pauses.
for j = 1, m do
  local spentKey = KEYS[budgetKeys + 3 * j - 2]
  local reservations, reserved = KEYS[budgetKeys + 3 * j - 1], KEYS[budgetKeys + 3 * j]
  local limit, spentExpiry = tonumber(ARGV[budgetArgs + 2 * j - 1]), ARGV[budgetArgs + 2 * j]
  -- A reservation that expired is a worker that died mid-call: counted as spent at its worst
  -- case, since what the call cost is unknown and a budget must never count less than was spent.
  local expired = redis.call('ZRANGEBYSCORE', reservations, '-inf', now)
  if #expired > 0 then
    local sum = 0
    for _, id in ipairs(expired) do
      sum = sum + tonumber(redis.call('HGET', reserved, '${RESERVED_CALL_PREFIX}' .. id) or '0')
      redis.call('HDEL', reserved, '${RESERVED_CALL_PREFIX}' .. id)
    end
    redis.call('ZREMRANGEBYSCORE', reservations, '-inf', now)
    release(reservations, reserved, sum)
    redis.call('INCRBYFLOAT', spentKey, sum)
    redis.call('PEXPIREAT', spentKey, spentExpiry)
  end
  local spent = redis.call('GET', spentKey) or '0'
  local reservedSum = redis.call('HGET', reserved, '${RESERVED_TOTAL_FIELD}') or '0'
  -- A billionth of a dollar of slack: the sums are floats.
  if tonumber(spent) + tonumber(reservedSum) + worst > limit + 1e-9 then
    return {'budget', j, spent, reservedSum}
  end
  inFlight[j] = tonumber(reservedSum)
end
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
local waitMs, scarcest = math.max(0, blocked - now), 0
local states = {}
for i = 1, n do
  local capacity, need = tonumber(ARGV[7 + 2 * i]), tonumber(ARGV[8 + 2 * i])
  local tokens, updated = bucket(KEYS[2 + i], capacity, now)
  local wait = math.max(0, updated - now)
  if tokens < need then wait = wait + math.ceil((need - tokens) * 60000 / capacity) end
  if wait > waitMs then waitMs, scarcest = wait, i end
  states[i] = {tokens - need, updated}
end
if waitMs > 0 then return {'rate', waitMs, scarcest} end
for i = 1, n do
  store(KEYS[2 + i], tonumber(ARGV[7 + 2 * i]), states[i][1], states[i][2], now)
end
for j = 1, m do
  local reservations, reserved = KEYS[budgetKeys + 3 * j - 1], KEYS[budgetKeys + 3 * j]
  redis.call('ZADD', reservations, ARGV[4], callId)
  redis.call('HSET', reserved, '${RESERVED_CALL_PREFIX}' .. callId, ARGV[5],
    '${RESERVED_TOTAL_FIELD}', string.format('%.17g', inFlight[j] + worst))
  redis.call('PEXPIRE', reservations, ARGV[8])
  redis.call('PEXPIRE', reserved, ARGV[8])
end
redis.call('SET', KEYS[1], 'admitted', 'PX', ARGV[3])
return {'admitted'}
`;
const ADMIT_LUA = BUCKET_LUA + RELEASE_LUA + ADMIT_BODY;
/**
 * ADMIT_LUA after a look at the result cache: KEYS as ADMIT_LUA's, then the answer's key. An
 * answer there is returned as {'cached', answer}, and nothing is admitted.
 */
const ADMIT_UNLESS_CACHED_LUA = BUCKET_LUA + RELEASE_LUA + `
local cached = redis.call('GET', KEYS[#KEYS])
if cached then return {'cached', cached} end
` + ADMIT_BODY;

/**
 * KEYS: call, bucket × n, (spent, reservations, reserved) × m, spend day, spend total.
 * ARGV: callId, callTtlMs, now, cost ('' = unknown), n, m, floats, integers, spend day expiry,
 * (capacity, take) × n, spent expiry × m, (field, increment) × (floats + integers).
 * Returns 1, or 0 when the call was settled already.
 */
const SETTLE_LUA = BUCKET_LUA + RELEASE_LUA + `
local callId, now, cost = ARGV[1], tonumber(ARGV[3]), ARGV[4]
local n, m = tonumber(ARGV[5]), tonumber(ARGV[6])
local floats, integers = tonumber(ARGV[7]), tonumber(ARGV[8])
local state = redis.call('GET', KEYS[1])
if state == 'settled' then return 0 end
redis.call('SET', KEYS[1], 'settled', 'PX', ARGV[2])
-- Only an admitted call took from the buckets.
if state == 'admitted' then
  for i = 1, n do
    local capacity, take = tonumber(ARGV[8 + 2 * i]), tonumber(ARGV[9 + 2 * i])
    if take ~= 0 then
      local tokens, updated = bucket(KEYS[1 + i], capacity, now)
      store(KEYS[1 + i], capacity, math.min(capacity, tokens - take), updated, now)
    end
  end
end
local budgetKeys, budgetArgs = 1 + n, 9 + 2 * n
for j = 1, m do
  local spentKey = KEYS[budgetKeys + 3 * j - 2]
  local reservations, reserved = KEYS[budgetKeys + 3 * j - 1], KEYS[budgetKeys + 3 * j]
  -- Only a reservation still there: one that expired was counted at its worst case already.
  local amount = redis.call('HGET', reserved, '${RESERVED_CALL_PREFIX}' .. callId)
  if amount then
    redis.call('ZREM', reservations, callId)
    redis.call('HDEL', reserved, '${RESERVED_CALL_PREFIX}' .. callId)
    release(reservations, reserved, tonumber(amount))
    if cost == '' then redis.call('INCRBYFLOAT', spentKey, amount)
    else redis.call('INCRBYFLOAT', spentKey, cost) end
    redis.call('PEXPIREAT', spentKey, ARGV[budgetArgs + j])
  end
end
local spendKeys, spendArgs = budgetKeys + 3 * m, budgetArgs + m
for f = 1, floats + integers do
  local command = f <= floats and 'HINCRBYFLOAT' or 'HINCRBY'
  local field, increment = ARGV[spendArgs + 2 * f - 1], ARGV[spendArgs + 2 * f]
  redis.call(command, KEYS[spendKeys + 1], field, increment)
  redis.call(command, KEYS[spendKeys + 2], field, increment)
end
redis.call('PEXPIREAT', KEYS[spendKeys + 1], ARGV[9])
return 1
`;

/**
 * KEYS: block, bucket × n. ARGV: now, until, capacity × n.
 * Holds the model until `until` (never shortening a later hold) and empties its buckets, which
 * refill from then: the fleet resumes at the limit's pace, not all at once.
 */
const RATE_LIMITED_LUA = BUCKET_LUA + `
local now, untilMs = tonumber(ARGV[1]), tonumber(ARGV[2])
if untilMs > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], untilMs, 'PX', untilMs - now)
end
for i = 2, #KEYS do
  local capacity = tonumber(ARGV[i + 1])
  local tokens, updated = bucket(KEYS[i], capacity, now)
  store(KEYS[i], capacity, math.min(tokens, 0), math.max(updated, untilMs), now)
end
return 1
`;

/** A Lua script run by its SHA-1 (`EVALSHA`), sent whole only when Redis does not have it yet. */
interface LuaScript {
  source: string;
  sha: string;
}

function luaScript(source: string): LuaScript {
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

const ADMIT = luaScript(ADMIT_LUA);
const ADMIT_UNLESS_CACHED = luaScript(ADMIT_UNLESS_CACHED_LUA);
const SETTLE = luaScript(SETTLE_LUA);
const RATE_LIMITED = luaScript(RATE_LIMITED_LUA);

/** Runs `script`: one round trip, two the first time a Redis sees it (after a restart or `SCRIPT FLUSH`). */
async function runScript(
  redis: RedisClient,
  script: LuaScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
    return await redis.eval(script.source, keys.length, ...keys, ...args);
  }
}

function checkCount(what: string, name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(
      `Cannot ${what} as '${name}' must be a finite number >= 0: current value is ${value}`,
    );
  }
}

function checkPlan(plan: CallPlan, what: string): void {
  if (typeof plan.callId !== "string" || plan.callId === "") {
    throw new TypeError(
      `Cannot ${what} as 'callId' must be a non-empty string: current value is ${
        JSON.stringify(plan.callId)
      }`,
    );
  }
  checkCount(what, "inputTokens", plan.inputTokens);
  checkCount(what, "maxOutputTokens", plan.maxOutputTokens);
}

/**
 * The fleet's budgets and token-rate limits over `redis`: see {@link Economics}. A call's
 * admission and settlement each take one round trip; with no budget and no limit they still
 * mark the call, so that the spend counters count it once.
 *
 * @example
 * ```ts
 * import type { Redis } from "ioredis";
 * import { createEconomics } from "./admission.ts";
 *
 * // Needs a Redis server, so it is a function: `deno test --doc` type-checks it, never calls it.
 * async function callWithinLimits(redis: Redis, call: () => Promise<{ costUsd: number }>) {
 *   const economics = createEconomics({
 *     redis,
 *     budgets: [{ scope: "overall", limitUsd: 50 }],
 *     period: { unit: "day", startsAtMinute: 0 },
 *     rateLimits: [{ scope: "provider", provider: "claude", limits: { itpm: 30_000 } }],
 *     reservationTtlMs: 360_000,
 *   });
 *   const plan = {
 *     callId: crypto.randomUUID(),
 *     provider: "claude",
 *     model: "claude-x",
 *     queue: "llm",
 *     inputTokens: 1200,
 *     maxOutputTokens: 1024,
 *     worstCaseUsd: 0.02,
 *   };
 *   const admission = await economics.admit(plan);
 *   if (!admission.admitted) return admission;
 *   const { costUsd } = await call();
 *   await economics.settle(plan, { costUsd });
 *   return admission;
 * }
 * ```
 */
export function createEconomics(options: EconomicsOptions): Economics {
  const { redis, budgets, period, rateLimits, reservationTtlMs } = options;
  if (!Number.isInteger(reservationTtlMs) || reservationTtlMs < 1) {
    throw new RangeError(
      `Cannot create the economics as 'reservationTtlMs' must be an integer >= 1: current value is ${reservationTtlMs}`,
    );
  }
  // A call's mark outlives its reservation, so that a settlement later than the reservation
  // (counted at its worst case already) still finds the call admitted and settles it once.
  const callTtlMs = 2 * reservationTtlMs;
  const budgetKeys = (applied: readonly BudgetSpec[], periodId: string) =>
    applied.flatMap((budget) => [
      budgetSpentKey(budget, periodId),
      budgetReservationsKey(budget),
      budgetReservedKey(budget),
    ]);

  const admission = async (
    plan: CallPlan,
    nowMs: number,
    cacheKey?: string,
  ): Promise<Admission | { cached: string }> => {
    checkPlan(plan, `admit call '${plan.callId}'`);
    const now = Math.floor(nowMs);
    const buckets = rateBucketsOf(plan, rateLimits);
    const applied = budgetsOf(plan, budgets);
    const worstCaseUsd = plan.worstCaseUsd ?? 0;
    if (applied.length > 0 && (!Number.isFinite(plan.worstCaseUsd) || worstCaseUsd < 0)) {
      throw new TypeError(
        `Cannot admit call '${plan.callId}' as 'worstCaseUsd' must be a finite number >= 0 ` +
          `when a budget applies (${
            applied.map(budgetName).join(", ")
          }): current value is ${plan.worstCaseUsd}`,
      );
    }
    const window = periodOf(period, now);
    const reply = await runScript(redis, cacheKey ? ADMIT_UNLESS_CACHED : ADMIT, [
      callKey(plan.callId),
      rateBlockKey(plan.provider, plan.model),
      ...buckets.map((bucket) => bucket.key),
      ...budgetKeys(applied, window.id),
      ...(cacheKey ? [cacheKey] : []),
    ], [
      now,
      plan.callId,
      callTtlMs,
      now + reservationTtlMs,
      worstCaseUsd,
      buckets.length,
      applied.length,
      reservationTtlMs + RESERVATIONS_KEEP_MS,
      ...buckets.flatMap((bucket) => [bucket.capacity, bucket.need]),
      ...applied.flatMap((budget) => [budget.limitUsd, window.endMs + BUDGET_KEEP_AFTER_END_MS]),
    ]) as [string, number, string | number, string?];
    if (reply[0] === "admitted") return { admitted: true };
    if (reply[0] === "cached") return { cached: String(reply[1]) };
    if (reply[0] === "rate") {
      const bucket = buckets[Number(reply[2]) - 1];
      return {
        admitted: false,
        reason: "rate_limit",
        waitMs: Number(reply[1]),
        limit: bucket?.limit ?? `${plan.provider}/${plan.model} retry-after`,
      };
    }
    const budget = applied[Number(reply[1]) - 1];
    return {
      admitted: false,
      reason: "budget",
      budget: budgetName(budget),
      scope: budget,
      limitUsd: budget.limitUsd,
      spentUsd: Number(reply[2]),
      reservedUsd: Number(reply[3]),
      resetAtMs: window.endMs,
    };
  };

  return {
    admit: (plan, nowMs = Date.now()) => admission(plan, nowMs) as Promise<Admission>,
    admitUnlessCached: (plan, cacheKey, nowMs = Date.now()) => admission(plan, nowMs, cacheKey),

    async settle(plan, outcome, nowMs = Date.now()) {
      checkPlan(plan, `settle call '${plan.callId}'`);
      if (outcome.costUsd !== undefined) {
        checkCount(`settle call '${plan.callId}'`, "costUsd", outcome.costUsd);
      }
      const now = Math.floor(nowMs);
      const buckets = rateBucketsOf(plan, rateLimits);
      const applied = budgetsOf(plan, budgets);
      const window = periodOf(period, now);
      const day = dayOf(now);
      const usage = outcome.usage && wholeTokens(outcome.usage);
      const { floats, integers } = spendIncrements(
        { ...plan, model: outcome.answeredModel ?? plan.model },
        { costUsd: outcome.costUsd, usage, failed: outcome.failed },
      );
      const corrections = bucketCorrections(buckets, usage);
      const reply = await runScript(redis, SETTLE, [
        callKey(plan.callId),
        ...buckets.map((bucket) => bucket.key),
        ...budgetKeys(applied, window.id),
        spendDayKey(day.id),
        SPEND_TOTAL_KEY,
      ], [
        plan.callId,
        callTtlMs,
        now,
        outcome.costUsd ?? "",
        buckets.length,
        applied.length,
        floats.length,
        integers.length,
        day.endMs + SPEND_DAY_KEEP_MS,
        ...buckets.flatMap((bucket, index) => [bucket.capacity, corrections[index]]),
        ...applied.map(() => window.endMs + BUDGET_KEEP_AFTER_END_MS),
        ...[...floats, ...integers].flat(),
      ]);
      return reply === 1;
    },

    async rateLimited(provider, model, retryAfterMs, nowMs = Date.now()) {
      checkCount(`hold ${provider}/${model}`, "retryAfterMs", retryAfterMs);
      if (retryAfterMs === 0) return;
      const now = Math.floor(nowMs);
      const plan = { callId: "-", provider, model, queue: "", inputTokens: 0, maxOutputTokens: 0 };
      const buckets = rateBucketsOf(plan, rateLimits);
      await runScript(
        redis,
        RATE_LIMITED,
        [rateBlockKey(provider, model), ...buckets.map((bucket) => bucket.key)],
        [now, now + Math.ceil(retryAfterMs), ...buckets.map((bucket) => bucket.capacity)],
      );
    },
  };
}
