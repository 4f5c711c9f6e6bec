import { strict as assert } from "node:assert";
import type { Redis } from "ioredis";
import type { BudgetSpec, RateLimitSpec } from "../config/economics_rules.ts";
import { startRedis } from "../testing/redis.ts";
import {
  type Admission,
  bucketCorrections,
  budgetsOf,
  type CallPlan,
  createEconomics,
  rateBucketsOf,
} from "./admission.ts";
import { ECONOMICS_PREFIX, modelBucketKey, rateKeyBucketKey, resultCacheKeyOf } from "./keys.ts";
import { readBudgets, readSpend } from "./spend.ts";
import { usageOf } from "../providers/provider.ts";

// Noon tomorrow: the keys' expiry times (PEXPIREAT, from the injected time) stay in Redis's future.
const TOMORROW = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 86_400_000;
const T0 = TOMORROW + 12 * 3_600_000;
const MIDNIGHT = TOMORROW + 86_400_000;
const dateOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const DAY = { unit: "day", startsAtMinute: 0 } as const;
const TTL_MS = 60_000;

let calls = 0;
function plan(overrides: Partial<CallPlan> = {}): CallPlan {
  return {
    callId: `call-${++calls}`,
    provider: "claude",
    model: "claude-x",
    queue: "llm",
    inputTokens: 1000,
    maxOutputTokens: 500,
    worstCaseUsd: 1,
    ...overrides,
  };
}

function economicsOf(redis: Redis, setup: Setup) {
  return createEconomics({
    redis,
    budgets: setup.budgets ?? [],
    period: DAY,
    rateLimits: setup.rateLimits ?? [],
    reservationTtlMs: TTL_MS,
  });
}

interface Setup {
  budgets?: BudgetSpec[];
  rateLimits?: RateLimitSpec[];
}

/** A Redis server of the test's own and one fleet's economics over it; stopped on dispose. */
async function startFleet(setup: Setup = {}) {
  const server = await startRedis();
  const client = server.client();
  return {
    server,
    client,
    economics: economicsOf(client, setup),
    /** Where the budgets stand at `nowMs`. */
    budgetsAt: (nowMs: number) => readBudgets(client, setup.budgets ?? [], DAY, nowMs),
    /** What a bucket holds, as last written. */
    tokensOf: async (key: string) => Number(await client.hget(key, "tokens")),
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  };
}

function overall(limitUsd: number): BudgetSpec[] {
  return [{ scope: "overall", limitUsd }];
}

function claudeLimits(limits: RateLimitSpec["limits"]): RateLimitSpec[] {
  return [{ scope: "provider", provider: "claude", limits }];
}

type Refusal<Reason> = Extract<Admission, { reason: Reason }>;

function budgetRefusal(admission: Admission): Refusal<"budget"> {
  assert.equal(!admission.admitted && admission.reason, "budget", JSON.stringify(admission));
  return admission as Refusal<"budget">;
}

function rateRefusal(admission: Admission): Refusal<"rate_limit"> {
  assert.equal(!admission.admitted && admission.reason, "rate_limit", JSON.stringify(admission));
  return admission as Refusal<"rate_limit">;
}

Deno.test("a reservation of the worst case is settled to the real cost", async () => {
  await using fleet = await startFleet({ budgets: overall(10) });
  const { economics } = fleet;
  const call = plan({ worstCaseUsd: 1.5 });
  assert.deepEqual(await economics.admit(call, T0), { admitted: true });
  const [reserved] = await fleet.budgetsAt(T0);
  assert.deepEqual([reserved.spentUsd, reserved.reservedUsd, reserved.leftUsd], [0, 1.5, 8.5]);
  assert.equal(await economics.settle(call, { costUsd: 0.25 }, T0 + 5000), true);
  const [settled] = await fleet.budgetsAt(T0 + 5000);
  assert.deepEqual([settled.spentUsd, settled.reservedUsd, settled.leftUsd], [0.25, 0, 9.75]);
});

Deno.test("a budget refuses the call that would exceed it, naming the budget, what is spent and reserved, and the reset; nothing changes", async () => {
  await using fleet = await startFleet({
    budgets: [
      { scope: "overall", limitUsd: 10 },
      { scope: "provider", provider: "claude", limitUsd: 2 },
      { scope: "queue", queue: "batch", limitUsd: 0.5 },
    ],
  });
  const { economics } = fleet;
  const first = plan({ worstCaseUsd: 1.5 });
  assert.equal((await economics.admit(first, T0)).admitted, true);
  await economics.settle(first, { costUsd: 0.75 }, T0);
  assert.equal((await economics.admit(plan({ worstCaseUsd: 1 }), T0)).admitted, true);
  const refused = await economics.admit(plan({ worstCaseUsd: 0.5 }), T0);
  assert.deepEqual(refused, {
    admitted: false,
    reason: "budget",
    budget: "provider claude",
    scope: { scope: "provider", provider: "claude", limitUsd: 2 },
    limitUsd: 2,
    spentUsd: 0.75,
    reservedUsd: 1,
    resetAtMs: MIDNIGHT,
  });
  // By how much: 0.75 spent + 1 reserved + 0.5 asked is 0.25 over the 2.
  const { spentUsd, reservedUsd, limitUsd } = budgetRefusal(refused);
  assert.equal(spentUsd + reservedUsd + 0.5 - limitUsd, 0.25);
  // Exactly to the limit fits.
  assert.equal((await economics.admit(plan({ worstCaseUsd: 0.25 }), T0)).admitted, true);
  // The refused call reserved nothing anywhere.
  const states = await fleet.budgetsAt(T0);
  assert.deepEqual(states.map((state) => state.reservedUsd), [1.25, 1.25, 0]);
  // Another provider is not under claude's budget; a queue's budget is its own.
  assert.equal(
    (await economics.admit(plan({ provider: "openai", worstCaseUsd: 1 }), T0)).admitted,
    true,
  );
  const queue = budgetRefusal(
    await economics.admit(plan({ provider: "openai", queue: "batch" }), T0),
  );
  assert.equal(queue.budget, "queue batch");
});

Deno.test("admit: a budget that applies needs the call's worst case; an error names the budget", async () => {
  await using fleet = await startFleet({
    budgets: [{ scope: "provider", provider: "claude", limitUsd: 1 }],
  });
  const { economics } = fleet;
  await assert.rejects(economics.admit(plan({ callId: "c1", worstCaseUsd: undefined }), T0), {
    name: "TypeError",
    message:
      "Cannot admit call 'c1' as 'worstCaseUsd' must be a finite number >= 0 when a budget applies (provider claude): current value is undefined",
  });
  await assert.rejects(
    economics.admit(plan({ inputTokens: -1 }), T0),
    /'inputTokens' must be a finite number >= 0: current value is -1/,
  );
  const openai = plan({ provider: "openai", worstCaseUsd: undefined });
  assert.deepEqual(await economics.admit(openai, T0), { admitted: true });
  await assert.rejects(economics.settle(openai, { costUsd: -0.5 }, T0), {
    name: "RangeError",
    message:
      `Cannot settle call '${openai.callId}' as 'costUsd' must be a finite number >= 0: current value is -0.5`,
  });
});

Deno.test("two fleets admitting at once never reserve past the limit", async () => {
  await using fleet = await startFleet({ budgets: overall(1) });
  // The other fleet: its own connection, as another container's.
  const fleets = [fleet.economics, economicsOf(fleet.server.client(), { budgets: overall(1) })];
  const plans = Array.from({ length: 120 }, () => plan({ worstCaseUsd: 0.03 }));
  const admissions = await Promise.all(
    plans.map((call, index) => fleets[index % 2].admit(call, T0 + index)),
  );
  const admitted = plans.filter((_, index) => admissions[index].admitted);
  assert.equal(admitted.length, 33);
  const [state] = await fleet.budgetsAt(T0 + 200);
  assert.ok(state.spentUsd + state.reservedUsd <= 1 + 1e-9, JSON.stringify(state));
  // Settled for less, the room comes back, and the fleets still stay within the limit.
  await Promise.all(
    admitted.map((call, index) => fleets[index % 2].settle(call, { costUsd: 0.01 }, T0 + 300)),
  );
  const more = Array.from({ length: 60 }, () => plan({ worstCaseUsd: 0.03 }));
  const again = await Promise.all(
    more.map((call, index) => fleets[index % 2].admit(call, T0 + 400)),
  );
  assert.equal(again.filter((admission) => admission.admitted).length, 22); // (1 - 0.33) / 0.03
  const [after] = await fleet.budgetsAt(T0 + 400);
  assert.ok(after.spentUsd + after.reservedUsd <= 1 + 1e-9, JSON.stringify(after));
});

Deno.test("an expired reservation (a worker that died mid-call) is counted as spent at its worst case; a late settlement counts nothing again", async () => {
  await using fleet = await startFleet({ budgets: overall(3) });
  const { economics } = fleet;
  const dead = plan({ worstCaseUsd: 2 });
  await economics.admit(dead, T0);
  const [live] = await fleet.budgetsAt(T0 + TTL_MS - 1);
  assert.deepEqual([live.spentUsd, live.reservedUsd], [0, 2]);
  const [expired] = await fleet.budgetsAt(T0 + TTL_MS);
  assert.deepEqual([expired.spentUsd, expired.reservedUsd], [2, 0]);
  // The next admission finds it and counts it: 2 spent, so 1.5 does not fit.
  const refused = budgetRefusal(await economics.admit(plan({ worstCaseUsd: 1.5 }), T0 + TTL_MS));
  assert.deepEqual([refused.spentUsd, refused.reservedUsd], [2, 0]);
  // The call did end after all: the budget keeps its worst case, the spend counters its cost.
  assert.equal(await economics.settle(dead, { costUsd: 0.1 }, T0 + TTL_MS + 1), true);
  const [after] = await fleet.budgetsAt(T0 + TTL_MS + 1);
  assert.deepEqual([after.spentUsd, after.reservedUsd], [2, 0]);
  assert.equal((await readSpend(fleet.client, T0)).today[0].usd, 0.1);
});

Deno.test("settle is idempotent: a second settlement counts nothing again", async () => {
  await using fleet = await startFleet({
    budgets: overall(10),
    rateLimits: claudeLimits({ otpm: 1000 }),
  });
  const { economics } = fleet;
  const call = plan({ worstCaseUsd: 1, maxOutputTokens: 500 });
  await economics.admit(call, T0);
  const usage = usageOf({ input_tokens: 1000, output_tokens: 100 });
  assert.equal(await economics.settle(call, { costUsd: 0.5, usage }, T0), true);
  assert.equal(await economics.settle(call, { costUsd: 0.5, usage }, T0), false);
  const [state] = await fleet.budgetsAt(T0);
  assert.deepEqual([state.spentUsd, state.reservedUsd], [0.5, 0]);
  const spend = await readSpend(fleet.client, T0);
  assert.deepEqual([spend.today[0].calls, spend.today[0].usd, spend.total[0].calls], [1, 0.5, 1]);
  // 500 taken, 400 given back once.
  assert.equal(await fleet.tokensOf(modelBucketKey("otpm", "claude", "claude-x")), 900);
});

Deno.test("a repeated admission of the same call takes nothing twice", async () => {
  await using fleet = await startFleet({
    budgets: overall(10),
    rateLimits: claudeLimits({ rpm: 10 }),
  });
  const { economics } = fleet;
  const call = plan({ worstCaseUsd: 1 });
  await economics.admit(call, T0);
  assert.deepEqual(await economics.admit(call, T0), { admitted: true });
  assert.equal((await fleet.budgetsAt(T0))[0].reservedUsd, 1);
  assert.equal(await fleet.tokensOf(modelBucketKey("rpm", "claude", "claude-x")), 9);
});

Deno.test("the budget starts over at the period's end, not 1 ms sooner", async () => {
  await using fleet = await startFleet({ budgets: overall(1) });
  const { economics } = fleet;
  const spent = plan({ worstCaseUsd: 1 });
  await economics.admit(spent, MIDNIGHT - 10);
  await economics.settle(spent, { costUsd: 1 }, MIDNIGHT - 5);
  const refused = budgetRefusal(await economics.admit(plan({ worstCaseUsd: 0.01 }), MIDNIGHT - 1));
  assert.deepEqual(
    [refused.spentUsd, refused.resetAtMs],
    [1, MIDNIGHT],
  );
  assert.deepEqual(await economics.admit(plan({ worstCaseUsd: 0.01 }), MIDNIGHT), {
    admitted: true,
  });
  const [today] = await fleet.budgetsAt(MIDNIGHT);
  assert.deepEqual([today.periodId, today.spentUsd, today.reservedUsd], [
    dateOf(MIDNIGHT),
    0,
    0.01,
  ]);
  assert.equal(today.resetAtMs, MIDNIGHT + 86_400_000);
  // The old period's key expires two days after its end.
  const oldKey = `${ECONOMICS_PREFIX}budget:overall:spent:${dateOf(T0)}`;
  assert.equal(await fleet.client.call("PEXPIRETIME", oldKey), MIDNIGHT + 2 * 86_400_000);
});

Deno.test("a reservation made before the reset is settled into the new period", async () => {
  await using fleet = await startFleet({ budgets: overall(1) });
  const { economics } = fleet;
  const call = plan({ worstCaseUsd: 0.6 });
  await economics.admit(call, MIDNIGHT - 1);
  // In flight across midnight, it holds its worst case in the new period too.
  const refused = budgetRefusal(await economics.admit(plan({ worstCaseUsd: 0.5 }), MIDNIGHT));
  assert.equal(refused.reservedUsd, 0.6);
  await economics.settle(call, { costUsd: 0.2 }, MIDNIGHT + 1000);
  const [yesterday] = await fleet.budgetsAt(MIDNIGHT - 1);
  const [today] = await fleet.budgetsAt(MIDNIGHT + 1000);
  assert.deepEqual([yesterday.spentUsd, today.spentUsd, today.reservedUsd], [0, 0.2, 0]);
});

Deno.test("a token bucket refuses when empty with the wait until it holds the call's need, and admits then, not 1 ms sooner", async () => {
  await using fleet = await startFleet({
    rateLimits: claudeLimits({ rpm: 2 }),
  });
  const { economics } = fleet;
  assert.equal((await economics.admit(plan(), T0)).admitted, true);
  assert.equal((await economics.admit(plan(), T0)).admitted, true);
  assert.deepEqual(await economics.admit(plan(), T0), {
    admitted: false,
    reason: "rate_limit",
    waitMs: 30_000,
    limit: "claude/claude-x rpm 2",
  });
  const almost = rateRefusal(await economics.admit(plan(), T0 + 29_999));
  assert.equal(almost.waitMs, 1);
  assert.equal((await economics.admit(plan(), T0 + 30_000)).admitted, true);
});

Deno.test("a token bucket refills continuously at its limit per minute, never past its capacity", async () => {
  await using fleet = await startFleet({
    rateLimits: claudeLimits({ itpm: 6000 }),
  });
  const { economics } = fleet;
  const key = modelBucketKey("itpm", "claude", "claude-x");
  assert.equal((await economics.admit(plan({ inputTokens: 6000 }), T0)).admitted, true);
  assert.equal(await fleet.tokensOf(key), 0);
  // 6000 per minute is 100 per second.
  const early = rateRefusal(await economics.admit(plan({ inputTokens: 101 }), T0 + 1000));
  assert.equal(early.waitMs, 10);
  assert.equal((await economics.admit(plan({ inputTokens: 100 }), T0 + 1000)).admitted, true);
  assert.equal(await fleet.tokensOf(key), 0);
  // An hour later it is full, not fuller.
  assert.equal((await economics.admit(plan({ inputTokens: 1 }), T0 + 3_600_000)).admitted, true);
  assert.equal(await fleet.tokensOf(key), 5999);
  // A full bucket's key goes away (a second after it would be full): the same as no key.
  const ttl = await fleet.client.pttl(key);
  assert.ok(ttl !== -1 && ttl <= 1010, String(ttl));
});

Deno.test("a need larger than the bucket is clamped to its capacity, so it can ever fit; its correction may take the bucket below zero", async () => {
  await using fleet = await startFleet({
    rateLimits: claudeLimits({ itpm: 1000 }),
  });
  const { economics } = fleet;
  const key = modelBucketKey("itpm", "claude", "claude-x");
  const big = plan({ inputTokens: 5000 });
  assert.equal((await economics.admit(big, T0)).admitted, true);
  assert.equal(await fleet.tokensOf(key), 0);
  await economics.settle(big, { costUsd: 0, usage: usageOf({ input_tokens: 5000 }) }, T0);
  assert.equal(await fleet.tokensOf(key), -4000);
  // 4000 owed and 10 needed, at 1000 a minute.
  const refused = rateRefusal(await economics.admit(plan({ inputTokens: 10 }), T0));
  assert.equal(refused.waitMs, 240_600);
  assert.equal((await economics.admit(plan({ inputTokens: 5000 }), T0 + 300_000)).admitted, true);
});

Deno.test("each rate_key has its own bucket; a call without one draws on none", async () => {
  await using fleet = await startFleet({
    rateLimits: [{ scope: "key", limits: { rpm: 1 } }],
  });
  const { economics } = fleet;
  assert.equal((await economics.admit(plan({ rateKey: "site-a" }), T0)).admitted, true);
  assert.deepEqual(await economics.admit(plan({ rateKey: "site-a" }), T0), {
    admitted: false,
    reason: "rate_limit",
    waitMs: 60_000,
    limit: "key site-a rpm 1",
  });
  assert.equal((await economics.admit(plan({ rateKey: "site-b" }), T0)).admitted, true);
  assert.equal(
    (await economics.admit(plan({ rateKey: "site-b", provider: "openai" }), T0)).admitted,
    false,
  );
  assert.equal((await economics.admit(plan(), T0)).admitted, true);
  assert.equal(await fleet.client.exists(rateKeyBucketKey("rpm", "site-a")), 1);
});

Deno.test("a provider's entry gives each of its models its own bucket; a model's entry overrides it unit by unit", async () => {
  await using fleet = await startFleet({
    rateLimits: [
      { scope: "provider", provider: "claude", limits: { rpm: 1, otpm: 1000 } },
      { scope: "model", provider: "claude", model: "claude-big", limits: { rpm: 2 } },
    ],
  });
  const { economics } = fleet;
  assert.equal((await economics.admit(plan({ model: "claude-x" }), T0)).admitted, true);
  assert.equal((await economics.admit(plan({ model: "claude-x" }), T0)).admitted, false);
  assert.equal((await economics.admit(plan({ model: "claude-y" }), T0)).admitted, true);
  const big = () => plan({ model: "claude-big", maxOutputTokens: 400 });
  assert.equal((await economics.admit(big(), T0)).admitted, true);
  assert.equal((await economics.admit(big(), T0)).admitted, true);
  assert.deepEqual(await economics.admit(big(), T0), {
    admitted: false,
    reason: "rate_limit",
    waitMs: 30_000,
    limit: "claude/claude-big rpm 2",
  });
  // The provider's otpm still applies to claude-big: 800 of 1000 taken, 500 back in 30 s.
  const output = rateRefusal(
    await economics.admit(plan({ model: "claude-big", maxOutputTokens: 800 }), T0 + 30_000),
  );
  assert.deepEqual([output.limit, output.waitMs], [
    "claude/claude-big otpm 1000",
    6000, // 100 tokens short, at 1000 a minute
  ]);
});

Deno.test("rateLimited: a 429 empties the model's buckets until its retry-after, fleet-wide; they refill from then", async () => {
  const rateLimits = claudeLimits({ rpm: 60 });
  await using fleet = await startFleet({ rateLimits });
  const worker = fleet.economics;
  const otherContainer = economicsOf(fleet.server.client(), { rateLimits });
  await worker.rateLimited("claude", "claude-x", 10_000, T0);
  // Empty until T0 + 10 s, then a request a second.
  assert.deepEqual(await otherContainer.admit(plan(), T0 + 9_999), {
    admitted: false,
    reason: "rate_limit",
    waitMs: 1 + 1000,
    limit: "claude/claude-x rpm 60",
  });
  assert.equal((await otherContainer.admit(plan(), T0 + 10_999)).admitted, false);
  assert.equal((await otherContainer.admit(plan(), T0 + 11_000)).admitted, true);
  assert.equal((await otherContainer.admit(plan({ model: "claude-y" }), T0)).admitted, true);
  // A shorter retry-after later never shortens the hold.
  await worker.rateLimited("claude", "claude-z", 10_000, T0);
  await worker.rateLimited("claude", "claude-z", 1000, T0);
  assert.equal(
    (await otherContainer.admit(plan({ model: "claude-z" }), T0 + 5000)).admitted,
    false,
  );
});

Deno.test("rateLimited holds a model with no limits of its own until the retry-after, not 1 ms longer", async () => {
  await using fleet = await startFleet();
  const { economics } = fleet;
  await economics.rateLimited("openai", "gpt-x", 2500, T0);
  assert.deepEqual(await economics.admit(plan({ provider: "openai", model: "gpt-x" }), T0 + 500), {
    admitted: false,
    reason: "rate_limit",
    waitMs: 2000,
    limit: "openai/gpt-x retry-after",
  });
  assert.equal(
    (await economics.admit(plan({ provider: "openai", model: "gpt-x" }), T0 + 2500)).admitted,
    true,
  );
  await economics.rateLimited("openai", "gpt-x", 0, T0);
  await assert.rejects(
    economics.rateLimited("openai", "gpt-x", NaN, T0),
    /'retryAfterMs' must be a finite number >= 0: current value is NaN/,
  );
});

Deno.test("settle corrects the buckets: input taken up front becomes what was used, unused output is given back", async () => {
  await using fleet = await startFleet({
    rateLimits: claudeLimits({ itpm: 10_000, otpm: 1000 }),
  });
  const { economics } = fleet;
  const call = plan({ inputTokens: 2000, maxOutputTokens: 800 });
  await economics.admit(call, T0);
  const input = modelBucketKey("itpm", "claude", "claude-x");
  const output = modelBucketKey("otpm", "claude", "claude-x");
  assert.deepEqual([await fleet.tokensOf(input), await fleet.tokensOf(output)], [8000, 200]);
  const usage = {
    input_tokens: 2500,
    output_tokens: 100,
    cache_creation_input_tokens: 500,
    cache_read_input_tokens: 9000,
  };
  await economics.settle(call, { costUsd: 0.01, usage }, T0);
  // Input: 3000 used (cache reads do not count) where 2000 were taken; output: 700 given back.
  assert.deepEqual([await fleet.tokensOf(input), await fleet.tokensOf(output)], [7000, 900]);
  // A call whose usage is unknown keeps what it took.
  const failed = plan({ inputTokens: 2000, maxOutputTokens: 800 });
  await economics.admit(failed, T0);
  await economics.settle(failed, { costUsd: undefined }, T0);
  assert.deepEqual([await fleet.tokensOf(input), await fleet.tokensOf(output)], [5000, 100]);
});

Deno.test("every economics key carries the {llm} hash tag; scripts evicted from Redis are sent again", async () => {
  await using fleet = await startFleet({
    budgets: [{ scope: "overall", limitUsd: 5 }, { scope: "queue", queue: "llm", limitUsd: 5 }],
    rateLimits: [
      { scope: "provider", provider: "claude", limits: { rpm: 5, itpm: 5000, otpm: 5000 } },
      { scope: "key", limits: { rpm: 5 } },
    ],
  });
  const { economics } = fleet;
  const call = plan({ rateKey: "tenant-1" });
  await economics.admit(call, T0);
  await fleet.client.script("FLUSH");
  await economics.settle(
    call,
    { costUsd: 0.5, usage: usageOf({ input_tokens: 10, output_tokens: 10 }) },
    T0,
  );
  await economics.rateLimited("claude", "claude-x", 1000, T0);
  const keys = await fleet.client.keys("*");
  assert.ok(keys.length >= 10, keys.join(", "));
  for (const key of keys) assert.ok(key.startsWith(ECONOMICS_PREFIX), key);
});

Deno.test("rateBucketsOf, budgetsOf and bucketCorrections decide without Redis", () => {
  const limits: RateLimitSpec[] = [
    { scope: "provider", provider: "claude", limits: { rpm: 50, otpm: 100 } },
    { scope: "key", limits: { itpm: 5000 } },
  ];
  const buckets = rateBucketsOf(plan({ rateKey: "t", maxOutputTokens: 4096 }), limits);
  assert.deepEqual(buckets.map((bucket) => [bucket.limit, bucket.need]), [
    ["claude/claude-x rpm 50", 1],
    ["claude/claude-x otpm 100", 100],
    ["key t itpm 5000", 1000],
  ]);
  assert.deepEqual(rateBucketsOf(plan({ provider: "openai" }), limits), []);
  assert.deepEqual(bucketCorrections(buckets, usageOf({ input_tokens: 10, output_tokens: 20 })), [
    0,
    -80,
    -990,
  ]);
  assert.deepEqual(bucketCorrections(buckets, undefined), [0, 0, 0]);
  assert.deepEqual(budgetsOf(plan(), [{ scope: "queue", queue: "other", limitUsd: 1 }]), []);
});

Deno.test("admitUnlessCached: an answer in the result cache comes back and nothing is admitted; without one the call is admitted as admit does", async () => {
  await using fleet = await startFleet({
    budgets: overall(10),
    rateLimits: claudeLimits({ rpm: 10 }),
  });
  const cacheKey = resultCacheKeyOf("ab".repeat(32));
  const bucket = modelBucketKey("rpm", "claude", "claude-x");
  await fleet.client.set(cacheKey, '{"result":{"text":"stored"}}');
  assert.deepEqual(
    await fleet.economics.admitUnlessCached(plan({ worstCaseUsd: 1.5 }), cacheKey, T0),
    { cached: '{"result":{"text":"stored"}}' },
  );
  const [untouched] = await fleet.budgetsAt(T0);
  assert.equal(untouched.reservedUsd, 0);
  assert.equal(await fleet.client.exists(bucket), 0);

  await fleet.client.del(cacheKey);
  assert.deepEqual(
    await fleet.economics.admitUnlessCached(plan({ worstCaseUsd: 1.5 }), cacheKey, T0),
    { admitted: true },
  );
  const [reserved] = await fleet.budgetsAt(T0);
  assert.equal(reserved.reservedUsd, 1.5);
  assert.equal(await fleet.tokensOf(bucket), 9);
});
