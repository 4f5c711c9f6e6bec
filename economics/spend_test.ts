import { strict as assert } from "node:assert";
import type { Redis } from "ioredis";
import type { BudgetSpec } from "../config/economics_rules.ts";
import { startRedis } from "../testing/redis.ts";
import { type CallPlan, createEconomics } from "./admission.ts";
import { SPEND_TOTAL_KEY, spendDayKey } from "./keys.ts";
import {
  budgetStateOf,
  readBudgets,
  readSpend,
  SPEND_DAY_KEEP_MS,
  spendIncrements,
  spendRows,
  wholeTokens,
} from "./spend.ts";
import { usageOf } from "../providers/provider.ts";

const DAY_MS = 86_400_000;
// Noon tomorrow: the keys' expiry times (PEXPIREAT, from the injected time) stay in Redis's future.
const TOMORROW = Math.floor(Date.now() / DAY_MS) * DAY_MS + DAY_MS;
const T0 = TOMORROW + 12 * 3_600_000;
const DAY = { unit: "day", startsAtMinute: 0 } as const;
const dateOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

let calls = 0;
/** The ledger of a fleet with no budget and no rate limit: it only counts the spend. */
function unlimited(client: Redis) {
  return createEconomics({
    redis: client,
    budgets: [],
    period: DAY,
    rateLimits: [],
    reservationTtlMs: 60_000,
  });
}

/** A call of `provider/model` from `queue`; the tokens matter to no reading here. */
function callOf(provider: string, model: string, queue: string, worstCaseUsd?: number): CallPlan {
  const callId = `call-${++calls}`;
  return { callId, provider, model, queue, inputTokens: 1, maxOutputTokens: 1, worstCaseUsd };
}

Deno.test("readSpend: today and in total, per model and per queue, with tokens and calls of unknown cost", async () => {
  await using redis = await startRedis();
  const client = redis.client();
  const economics = unlimited(client);
  const settle = async (call: CallPlan, costUsd: number | undefined, nowMs: number) => {
    await economics.admit(call, nowMs);
    await economics.settle(call, {
      costUsd,
      usage: {
        input_tokens: 100,
        output_tokens: 10,
        cache_creation_input_tokens: 5,
        cache_read_input_tokens: 50,
      },
    }, nowMs);
  };
  await settle(callOf("claude", "claude-x", "llm"), 0.5, T0 - DAY_MS);
  await settle(callOf("claude", "claude-x", "llm"), 0.25, T0);
  await settle(callOf("claude", "claude-x", "batch"), 0.25, T0);
  await settle(callOf("openai", "gpt-x", "llm"), undefined, T0);
  // Settled, then settled again: once.
  const twice = callOf("openai", "gpt-x", "llm");
  await settle(twice, 1, T0);
  await economics.settle(twice, { costUsd: 1 }, T0);

  const spend = await readSpend(client, T0);
  assert.equal(spend.day, dateOf(T0));
  assert.deepEqual(spend.today, [
    {
      provider: "claude",
      model: "claude-x",
      usd: 0.5,
      calls: 2,
      unknownCostCalls: 0,
      failedCalls: 0,
      input_tokens: 200,
      output_tokens: 20,
      cache_creation_input_tokens: 10,
      cache_read_input_tokens: 100,
    },
    {
      provider: "openai",
      model: "gpt-x",
      usd: 1,
      calls: 2,
      unknownCostCalls: 1,
      failedCalls: 0,
      input_tokens: 200,
      output_tokens: 20,
      cache_creation_input_tokens: 10,
      cache_read_input_tokens: 100,
    },
  ]);
  assert.deepEqual(spend.total.map((row) => [row.model, row.usd, row.calls]), [
    ["claude-x", 1, 3],
    ["gpt-x", 1, 2],
  ]);
  assert.deepEqual(spend.todayByQueue.map((row) => [row.queue, row.usd, row.calls]), [
    ["batch", 0.25, 1],
    ["llm", 1.25, 3],
  ]);
  assert.deepEqual(spend.totalByQueue.map((row) => [row.queue, row.calls]), [
    ["batch", 1],
    ["llm", 4],
  ]);
  // A day's counters are kept for 40 days after it ends; the totals for ever.
  const dayKey = spendDayKey(dateOf(T0));
  assert.equal(await client.call("PEXPIRETIME", dayKey), TOMORROW + DAY_MS + SPEND_DAY_KEEP_MS);
  assert.equal(await client.call("PEXPIRETIME", SPEND_TOTAL_KEY), -1);
});

Deno.test("a failed call counts as failed, not as a call answered, its dollars only when known; the answered model names the row", async () => {
  await using redis = await startRedis();
  const client = redis.client();
  const economics = unlimited(client);
  const timedOut = callOf("claude", "default", "llm");
  await economics.settle(timedOut, { costUsd: undefined, failed: true }, T0);
  const overBudget = callOf("claude", "default", "llm");
  await economics.settle(
    overBudget,
    { costUsd: 0.125, failed: true, answeredModel: "claude-opus-5-5" },
    T0,
  );
  const spend = await readSpend(client, T0);
  assert.deepEqual(
    spend.today.map((
      row,
    ) => [row.model, row.calls, row.failedCalls, row.unknownCostCalls, row.usd]),
    [["claude-opus-5-5", 0, 1, 0, 0.125], ["default", 0, 1, 0, 0]],
  );
});

Deno.test("readSpend of a fleet that spent nothing is empty rows", async () => {
  await using redis = await startRedis();
  assert.deepEqual(await readSpend(redis.client(), T0), {
    day: dateOf(T0),
    today: [],
    total: [],
    todayByQueue: [],
    totalByQueue: [],
  });
});

Deno.test("readBudgets: each budget's spent, reserved and left in the period, expired reservations as spent, nothing changed", async () => {
  await using redis = await startRedis();
  const client = redis.client();
  const budgets: BudgetSpec[] = [
    { scope: "overall", limitUsd: 10 },
    { scope: "provider", provider: "claude", limitUsd: 3 },
    { scope: "queue", queue: "batch", limitUsd: 1 },
  ];
  const economics = createEconomics({
    redis: client,
    budgets,
    period: DAY,
    rateLimits: [],
    reservationTtlMs: 60_000,
  });
  const done = callOf("claude", "claude-x", "llm", 1);
  await economics.admit(done, T0);
  await economics.settle(done, { costUsd: 0.5 }, T0);
  await economics.admit(callOf("claude", "claude-x", "llm", 2), T0);
  await economics.admit(callOf("openai", "gpt-x", "llm", 4), T0 + 30_000);
  const states = await readBudgets(client, budgets, DAY, T0 + 60_000);
  assert.deepEqual(states, [
    {
      budget: "overall",
      scope: budgets[0],
      limitUsd: 10,
      spentUsd: 2.5,
      reservedUsd: 4,
      leftUsd: 3.5,
      resetAtMs: TOMORROW + DAY_MS,
      periodId: dateOf(T0),
    },
    {
      budget: "provider claude",
      scope: budgets[1],
      limitUsd: 3,
      spentUsd: 2.5,
      reservedUsd: 0,
      leftUsd: 0.5,
      resetAtMs: TOMORROW + DAY_MS,
      periodId: dateOf(T0),
    },
    {
      budget: "queue batch",
      scope: budgets[2],
      limitUsd: 1,
      spentUsd: 0,
      reservedUsd: 0,
      leftUsd: 1,
      resetAtMs: TOMORROW + DAY_MS,
      periodId: dateOf(T0),
    },
  ]);
  // A reading removes nothing: the expired reservation is still there for the next admission.
  assert.deepEqual(await readBudgets(client, budgets, DAY, T0 + 60_000), states);
  assert.deepEqual(await readBudgets(client, [], DAY, T0), []);
});

Deno.test("budgetStateOf: over the limit, nothing is left (never below zero)", () => {
  const window = { id: "2026-12-06", startMs: 0, endMs: DAY_MS };
  const state = budgetStateOf(
    { scope: "overall", limitUsd: 1 },
    { spent: "1.2", amounts: {}, expiries: [] },
    window,
    0,
  );
  assert.deepEqual([state.spentUsd, state.leftUsd, state.resetAtMs], [1.2, 0, DAY_MS]);
});

Deno.test("spendIncrements counts the call, its cost and tokens for its model and its queue", () => {
  const call = { provider: "claude", model: "claude-x", queue: "llm" };
  const usage = usageOf({ input_tokens: 10, cache_read_input_tokens: 7 });
  assert.deepEqual(spendIncrements(call, { costUsd: 0.5, usage }), {
    floats: [["model:usd:claude/claude-x", 0.5], ["queue:usd:llm", 0.5]],
    integers: [
      ["model:calls:claude/claude-x", 1],
      ["model:input_tokens:claude/claude-x", 10],
      ["model:cache_read_input_tokens:claude/claude-x", 7],
      ["queue:calls:llm", 1],
      ["queue:input_tokens:llm", 10],
      ["queue:cache_read_input_tokens:llm", 7],
    ],
  });
});

Deno.test("wholeTokens rounds the counts and takes an odd one as 0, so a settlement never fails on it", () => {
  assert.deepEqual(
    wholeTokens({
      input_tokens: 1.6,
      output_tokens: -3,
      cache_creation_input_tokens: Infinity,
      cache_read_input_tokens: 2,
    }),
    {
      input_tokens: 2,
      output_tokens: 0,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 2,
    },
  );
});

Deno.test("spendRows skips fields of another layout and keeps model names whole", () => {
  const rows = spendRows({
    "model:usd:openai/meta/llama-3:8b": "0.5",
    "model:calls:openai/meta/llama-3:8b": "2",
    "model:bogus:claude/x": "1",
    "model:usd:noslash": "1",
    "other": "1",
    "queue:calls:llm": "not a number",
  });
  assert.deepEqual(rows.models.map((row) => [row.provider, row.model, row.usd, row.calls]), [
    ["openai", "meta/llama-3:8b", 0.5, 2],
  ]);
  assert.deepEqual(rows.queues, []);
});
