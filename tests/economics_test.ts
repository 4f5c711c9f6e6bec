/**
 * LLM economics end to end, with real supervisors, a real Redis and the stub APIs: what each job
 * cost, budgets and token-rate limits shared by two supervisors, the errors that cost money, the
 * prompt cache, the result cache, the fallback.
 */

import { strict as assert } from "node:assert";
import { type Job, Queue } from "bullmq";
import { costOf, priceOf, SHIPPED_PRICES } from "../economics/prices.ts";
import { readBudgets, readSpend } from "../economics/spend.ts";
import { parseBudgetPeriod, parseBudgets } from "../config/economics_rules.ts";
import { jobLogsKey } from "../redis/bullmq_internals.ts";
import { scrape, value } from "../testing/metrics.ts";
import { baseEnv, logRecords, runPpr, startSupervisor, type Supervisor } from "../testing/ppr.ts";
import { type RedisServer, startRedis } from "../testing/redis.ts";
import { startStubAnthropic } from "../testing/stub_anthropic.ts";
import { startStubLlm } from "../testing/stub_llm.ts";
import { waitUntil } from "../testing/wait.ts";
import { finishedJob, producerQueue } from "../testing/jobs.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

/** The Claude API against a stub (`ANTHROPIC_BASE_URL`). */
const claudeApi = (url: string) => ({
  LLM_PROVIDER: "claude",
  ANTHROPIC_API_KEY: "sk-ant-test",
  ANTHROPIC_BASE_URL: url,
});

/** The lines of a job's BullMQ log. */
function jobLog(redis: RedisServer, queue: Queue, job: Job): Promise<string[]> {
  return redis.client().lrange(jobLogsKey("bull", queue.name, String(job.id)), 0, -1);
}

const close = (value: number, expected: number) => Math.abs(value - expected) < 1e-12;

/**
 * Redis, `stub`, a producer and a supervisor of one worker whose environment `envOf` makes
 * from the stub; all stopped at the end, whatever the test did.
 */
async function oneWorker<Stub extends AsyncDisposable & { url: string }>(
  stub: Stub,
  envOf: (url: string) => Record<string, string>,
) {
  const redis = await startRedis();
  const queue = producerQueue(redis);
  const supervisor = startSupervisor(["--count", "1"], {
    redisUrl: redis.url,
    env: envOf(stub.url),
  });
  const dispose = async () => {
    await queue.close();
    await Promise.allSettled([supervisor[Symbol.asyncDispose](), stub[Symbol.asyncDispose]()]);
    await redis[Symbol.asyncDispose]();
  };
  try {
    await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
  } catch (error) {
    await dispose();
    throw error;
  }
  return { redis, stub, queue, supervisor, [Symbol.asyncDispose]: dispose };
}

/** One worker on the Claude API against the Messages API stub, with `env`. */
const claudeApiWorker = (env: Record<string, string>) =>
  oneWorker(startStubAnthropic(), (url) => ({ ...claudeApi(url), ...env }));

/** One worker on an OpenAI-compatible API against its stub, with `env`. */
const openAiWorker = (env: Record<string, string>) =>
  oneWorker(startStubLlm(), (url) => ({
    LLM_PROVIDER: "openai",
    OPENAI_API_KEY: "k",
    OPENAI_BASE_URL: `${url}/v1`,
    ...env,
  }));

Deno.test(
  "a Claude API job records its four token counts and its cost at the shipped price, in its result, /metrics and info; the system prompt is marked cache_control and the next job reads it from the provider's cache",
  integration,
  async () => {
    await using setup = await claudeApiWorker({
      LLM_SYSTEM_PROMPT: "You turn pages into JSON. ".repeat(40),
    });
    const { redis, stub, queue, supervisor } = setup;
    try {
      const first = await finishedJob(
        queue,
        await queue.add("llm", { prompt: "page one" }),
        "job 1",
      );
      const second = await finishedJob(
        queue,
        await queue.add("llm", { prompt: "page two" }),
        "job 2",
      );
      const price = priceOf(SHIPPED_PRICES, "claude", "claude-sonnet-5-5")!;
      for (const done of [first, second]) {
        assert.equal(await done.getState(), "completed");
        const result = done.returnvalue;
        assert.deepEqual(Object.keys(result.usage).sort(), [
          "cache_creation_input_tokens",
          "cache_read_input_tokens",
          "input_tokens",
          "output_tokens",
        ]);
        assert.ok(result.cost_usd > 0, `a priced call costs something: ${result.cost_usd}`);
        assert.ok(close(result.cost_usd, costOf(result.usage, price)), `${result.cost_usd}`);
      }
      assert.ok(first.returnvalue.usage.cache_creation_input_tokens > 0, "job 1 writes the cache");
      assert.equal(first.returnvalue.usage.cache_read_input_tokens, 0);
      assert.ok(second.returnvalue.usage.cache_read_input_tokens > 0, "job 2 reads it");
      assert.equal(second.returnvalue.usage.cache_creation_input_tokens, 0);
      assert.ok(
        second.returnvalue.cost_usd < first.returnvalue.cost_usd,
        "a cache read is cheaper",
      );
      for (const request of stub.jobRequests()) {
        const system = request.body?.system;
        assert.ok(Array.isArray(system), "the system prompt is sent as blocks");
        assert.deepEqual(system.at(-1)?.cache_control, { type: "ephemeral" });
      }
      const samples = await waitUntil(async () => {
        const each = await scrape(supervisor);
        return value(each, "ppr_llm_calls_total", { provider: "claude" }) === 2 ? each : undefined;
      }, { what: "2 calls counted", timeoutMs: 15_000 });
      const call = { provider: "claude", model: "claude-sonnet-5-5", queue: "llm" };
      assert.ok(close(
        value(samples, "ppr_llm_cost_usd_total", call),
        first.returnvalue.cost_usd + second.returnvalue.cost_usd,
      ));
      assert.equal(
        value(samples, "ppr_llm_tokens_total", { ...call, kind: "cache_read" }),
        second.returnvalue.usage.cache_read_input_tokens,
      );
      const spend = await readSpend(redis.client(), Date.now());
      const today = spend.today.find((row) => row.model === "claude-sonnet-5-5")!;
      assert.equal(today.calls, 2);
      assert.ok(close(today.usd, first.returnvalue.cost_usd + second.returnvalue.cost_usd));
      const info = await runPpr(["info"], baseEnv({ REDIS_URL: redis.url }));
      assert.equal(info.code, 0, info.stderr);
      const line = info.stdout.split("\n").find((each) =>
        each.includes("claude/claude-sonnet-5-5")
      );
      const spent = `$${today.usd.toFixed(4)}`;
      assert.match(line ?? "", new RegExp(`\\s2\\s+\\${spent}\\s+2\\s+\\${spent}$`), info.stdout);
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "a model without a price costs null (never 0), is counted in ppr_llm_calls_unpriced_total and warned about once",
  integration,
  async () => {
    await using setup = await openAiWorker({
      LLM_MODEL_NAME: "mystery-model-1",
    });
    const { redis, queue, supervisor } = setup;
    try {
      for (const prompt of ["a", "b"]) {
        const done = await finishedJob(queue, await queue.add("llm", { prompt }), prompt);
        assert.equal(await done.getState(), "completed");
        assert.equal(done.returnvalue.cost_usd, null);
      }
      const call = { provider: "openai", model: "mystery-model-1", queue: "llm" };
      await waitUntil(
        async () => value(await scrape(supervisor), "ppr_llm_calls_unpriced_total", call) === 2,
        {
          what: "2 unpriced calls counted",
          timeoutMs: 15_000,
        },
      );
      const warnings = logRecords(supervisor.logs)
        .filter((record) => /has no price/.test(record.message));
      assert.equal(warnings.length, 1, "warned about once");
      const spend = await readSpend(redis.client(), Date.now());
      const row = spend.total.find((each) => each.model === "mystery-model-1")!;
      assert.equal(row.unknownCostCalls, 2);
      assert.equal(row.usd, 0, "no dollars are made up for it");
    } finally {
      await queue.close();
    }
  },
);

/** `day@HH:MM` (UTC) of the next whole minute at least `leadMs` away, and when that is. */
function resetSoon(leadMs: number): { period: string; resetAt: number } {
  const resetAt = Math.ceil((Date.now() + leadMs) / 60_000) * 60_000;
  const at = new Date(resetAt);
  const two = (n: number) => String(n).padStart(2, "0");
  return { period: `day@${two(at.getUTCHours())}:${two(at.getUTCMinutes())}`, resetAt };
}

Deno.test(
  "a provider budget shared by two supervisors pauses the provider (reason budget) in both with no try spent, is never overshot, and work resumes by itself at the reset",
  integration,
  async () => {
    await using redis = await startRedis();
    await using stub = startStubAnthropic();
    const queue = producerQueue(redis);
    const limitUsd = 0.004;
    const { period, resetAt } = resetSoon(25_000);
    const env = {
      ...claudeApi(stub.url),
      LLM_BUDGET_USD: `claude=${limitUsd}`,
      LLM_BUDGET_PERIOD: period,
      WORKER_CONCURRENCY: "2",
    };
    const supervisors: Supervisor[] = [];
    try {
      for (const hostname of ["one", "two"]) {
        supervisors.push(startSupervisor(["--count", "2", "--hostname", hostname], {
          redisUrl: redis.url,
          env,
        }));
      }
      for (const each of supervisors) {
        await each.waitForHealth((body) => body.workers_alive === 2, "2 workers");
      }
      const jobs = await queue.addBulk(Array.from({ length: 60 }, (_, index) => ({
        name: "llm",
        data: {
          prompt: `page ${index}: ${"text of the page ".repeat(10)}`,
          provider: { max_tokens: 100 },
        },
      })));
      for (const each of supervisors) {
        const health = await each.waitForHealth(
          (body) => body.llm.state === "budget",
          "the budget pause",
          60_000,
        );
        assert.match(health.llm.reason ?? "", /budget provider claude reached/);
        assert.equal(new Date(health.llm.resumes_at!).getTime(), resetAt);
      }
      const budgets = parseBudgets(`claude=${limitUsd}`, { providers: ["claude"] });
      const periodSpec = parseBudgetPeriod(period);
      assert.ok(budgets.ok && periodSpec.ok);
      const before = Date.now();
      assert.ok(before < resetAt, "the pause was seen before the reset");
      // Calls in flight when the budget was reached settle; then nothing more is spent.
      await waitUntil(async () => (await queue.getActiveCount()) === 0, { what: "no job active" });
      const [state] = await readBudgets(redis.client(), budgets.value, periodSpec.value, before);
      const completedBefore = await queue.getCompletedCount();
      assert.ok(completedBefore > 0 && completedBefore < jobs.length, `${completedBefore} done`);
      assert.ok(
        state.spentUsd <= limitUsd + 1e-9,
        `spent $${state.spentUsd} of $${limitUsd}: overshoot ${state.spentUsd - limitUsd}`,
      );
      assert.equal(await queue.getFailedCount(), 0);
      const budgetSeries = { budget: "provider claude" };
      // The supervisors read the budgets every few seconds: wait for a read after the spending.
      const gauges = await waitUntil(async () => {
        const each = await scrape(supervisors[0]);
        return value(each, "ppr_llm_budget_spent_usd", budgetSeries) > 0 ? each : undefined;
      }, { what: "the budget's gauges", timeoutMs: 15_000 });
      assert.equal(value(gauges, "ppr_llm_budget_limit_usd", budgetSeries), limitUsd);
      assert.ok(value(gauges, "ppr_llm_budget_left_usd", budgetSeries) < limitUsd);
      for (const job of jobs) {
        if (await job.getState() === "completed") continue;
        const lines = await jobLog(redis, queue, job);
        assert.ok(!lines.some((line) => line.startsWith("ppr try failed")), "no try spent");
      }
      console.log(
        `budget: ${completedBefore} jobs done, $${
          state.spentUsd.toFixed(6)
        } spent of $${limitUsd}, ` +
          `overshoot $${Math.max(0, state.spentUsd - limitUsd).toFixed(6)}`,
      );
      // The reset: the pause ends with the period and the next period's budget is spent anew.
      await waitUntil(async () => (await queue.getCompletedCount()) > completedBefore, {
        what: "jobs completed after the budget's reset",
        timeoutMs: resetAt - Date.now() + 30_000,
      });
      assert.ok(Date.now() >= resetAt, "not before the reset");
    } finally {
      for (const each of supervisors) await each[Symbol.asyncDispose]();
      await queue.close();
    }
  },
);

Deno.test(
  "a token-rate limit keeps two supervisors under the provider's input tokens per minute: no 429 from a stub that enforces the same limit, jobs wait with no try spent",
  integration,
  async () => {
    await using redis = await startRedis();
    const inputTokensPerMinute = 30_000;
    await using stub = startStubAnthropic({ rateLimit: { inputTokensPerMinute } });
    const queue = producerQueue(redis);
    const env = {
      ...claudeApi(stub.url),
      LLM_PROMPT_CACHE: "false",
      LLM_RATE_LIMITS: `claude=itpm:${inputTokensPerMinute}`,
      WORKER_CONCURRENCY: "4",
    };
    const supervisors: Supervisor[] = [];
    try {
      for (const hostname of ["one", "two"]) {
        supervisors.push(startSupervisor(["--count", "2", "--hostname", hostname], {
          redisUrl: redis.url,
          env,
        }));
      }
      for (const each of supervisors) {
        await each.waitForHealth((body) => body.workers_alive === 2, "2 workers");
      }
      // About 500 tokens each: the bucket holds 60 of them, then lets one through a second.
      const jobs = 72;
      await queue.addBulk(Array.from({ length: jobs }, (_, index) => ({
        name: "llm",
        data: { prompt: `${index} ${"x".repeat(1990)}` },
      })));
      await waitUntil(async () => (await queue.getCompletedCount()) === jobs, {
        what: `${jobs} jobs completed`,
        timeoutMs: 60_000,
      });
      assert.equal(stub.rateLimited, 0, "no 429");
      assert.equal(await queue.getFailedCount(), 0);
      const requests = stub.jobRequests();
      const first = requests[0].at;
      const spanMs = requests.at(-1)!.at - first;
      const tokens = requests.reduce(
        (sum, request) =>
          sum + Math.ceil((request.body?.messages?.[0]?.content as string).length / 4),
        0,
      );
      const allowed = inputTokensPerMinute + (inputTokensPerMinute / 60_000) * spanMs;
      console.log(
        `rate limit: ${tokens} input tokens in ${
          (spanMs / 1000).toFixed(1)
        } s; a bucket of ${inputTokensPerMinute}/min allows ${Math.floor(allowed)}`,
      );
      assert.ok(tokens <= allowed, `${tokens} tokens over ${spanMs} ms; allowed ${allowed}`);
      const waits = await Promise.all(
        supervisors.map(async (each) =>
          value(await scrape(each), "ppr_llm_rate_limit_waits_total")
        ),
      );
      assert.ok(waits[0] + waits[1] > 0, "jobs waited for the bucket");
    } finally {
      for (const each of supervisors) await each[Symbol.asyncDispose]();
      await queue.close();
    }
  },
);

for (
  const [how, limits] of [
    ["", {}],
    // The admission script looks the answer up then, in the same round trip.
    [" (with a rate limit too)", { LLM_RATE_LIMITS: "openai=rpm:1000" }],
  ] as const
) {
  Deno.test(
    `an identical request is answered from the result cache (cached, cost 0, what it saved); an answer that no longer fits the schema is not served; a producer's content_hash stands for the messages${how}`,
    integration,
    async () => {
      await using setup = await openAiWorker({
        LLM_RESULT_CACHE: "llm",
        ...limits,
      });
      const { redis, stub, queue, supervisor } = setup;
      try {
        const format = { type: "object", properties: { title: { type: "string" } } };
        const data = { prompt: '{"title": "a page"}', format };
        const first = await finishedJob(queue, await queue.add("llm", data), "the first");
        const second = await finishedJob(queue, await queue.add("llm", data), "the repeat");
        assert.equal(first.returnvalue.cached, undefined);
        assert.ok(first.returnvalue.cost_usd > 0);
        assert.equal(second.returnvalue.cached, true);
        assert.equal(second.returnvalue.cost_usd, 0);
        assert.equal(second.returnvalue.saved_usd, first.returnvalue.cost_usd);
        assert.deepEqual(second.returnvalue.parsed, { title: "a page" });
        const calls = () => stub.requests.filter((each) => each.path.endsWith("/chat/completions"));
        assert.equal(calls().length, 1, "one call for two jobs");
        // An answer that no longer fits the schema is not served: it is dropped and the call made.
        const [key] = await redis.client().keys("ppr:{llm}:cache:*");
        const stored = JSON.parse((await redis.client().get(key))!);
        stored.result.text = '{"title": 5}';
        stored.result.parsed = { title: 5 };
        await redis.client().set(key, JSON.stringify(stored));
        const refreshed = await finishedJob(
          queue,
          await queue.add("llm", data),
          "after the change",
        );
        assert.equal(refreshed.returnvalue.cached, undefined);
        assert.deepEqual(refreshed.returnvalue.parsed, { title: "a page" });
        assert.equal(calls().length, 2, "the altered answer was not served");
        const hashed = (prompt: string) => ({ prompt, content_hash: "sha256:page-42" });
        await finishedJob(queue, await queue.add("llm", hashed('{"n": 1}')), "hashed 1");
        const third = await finishedJob(
          queue,
          await queue.add("llm", hashed('{"n": 2}')),
          "hashed 2",
        );
        assert.equal(third.returnvalue.cached, true, "the same content_hash is the same question");
        assert.equal(calls().length, 3);
        const samples = await waitUntil(async () => {
          const each = await scrape(supervisor);
          return value(each, "ppr_llm_result_cache_total", { result: "hit" }) === 2
            ? each
            : undefined;
        }, { what: "2 hits counted", timeoutMs: 15_000 });
        assert.equal(value(samples, "ppr_llm_result_cache_total", { result: "miss" }), 3);
        assert.ok(value(samples, "ppr_llm_result_cache_saved_usd_total") > 0);
      } finally {
        await queue.close();
      }
    },
  );
}

Deno.test(
  "LLM_FALLBACK: a job whose provider is paused, or answers overloaded, goes to the fallback, recorded in its result and /metrics",
  integration,
  async () => {
    await using redis = await startRedis();
    await using anthropic = startStubAnthropic();
    await using openai = startStubLlm();
    const queue = producerQueue(redis);
    await using supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: {
        ...claudeApi(anthropic.url),
        OPENAI_API_KEY: "k",
        OPENAI_BASE_URL: `${openai.url}/v1`,
        LLM_FALLBACK: "openai/gpt-4o-mini",
      },
    });
    try {
      await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
      anthropic.setMode({ error: 529 }, { times: 1 });
      const overloaded = await finishedJob(queue, await queue.add("llm", { prompt: "one" }), "one");
      assert.equal(overloaded.returnvalue.provider, "openai");
      assert.equal(overloaded.returnvalue.fallback_from, "claude");
      // The key is refused: the try pauses claude (auth_failed), and the job, given back, goes
      // to the fallback.
      anthropic.setMode({ error: 401 });
      const paused = await finishedJob(queue, await queue.add("llm", { prompt: "two" }), "two");
      assert.equal(paused.returnvalue.provider, "openai");
      assert.equal(paused.returnvalue.fallback_from, "claude");
      const health = await supervisor.waitForHealth(
        (body) => body.llm.state === "auth_failed",
        "claude's pause",
      );
      assert.equal(health.llm.state, "auth_failed");
      const three = await finishedJob(queue, await queue.add("llm", { prompt: "three" }), "three");
      assert.equal(three.returnvalue.provider, "openai");
      assert.equal(anthropic.jobRequests().length, 2, "the paused provider is not called again");
      await waitUntil(async () =>
        value(await scrape(supervisor), "ppr_llm_fallback_calls_total", {
          provider: "openai",
        }) === 3, { what: "3 fallback calls counted", timeoutMs: 15_000 });
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "a job whose worst case is more than the whole budget fails at once, naming both, instead of pausing the provider every period",
  integration,
  async () => {
    await using setup = await claudeApiWorker({ LLM_BUDGET_USD: "claude=0.0001" });
    const { stub, queue, supervisor } = setup;
    try {
      const done = await finishedJob(
        queue,
        await queue.add("llm", { prompt: "a page" }),
        "the job",
      );
      assert.equal(await done.getState(), "failed");
      assert.match(done.failedReason, /more than the whole budget provider claude \(\$0\.0001\)/);
      assert.equal(stub.jobRequests().length, 0);
      const health = await supervisor.health();
      assert.equal(health.body.llm.state, "ok", "the provider is not paused");
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "a job whose call may cost more than its max_cost_usd fails at once, naming both figures, and nothing is called",
  integration,
  async () => {
    await using setup = await claudeApiWorker({});
    const { stub, queue } = setup;
    try {
      const done = await finishedJob(
        queue,
        await queue.add("llm", { prompt: "a page", max_cost_usd: 0.000001 }),
        "the job",
      );
      assert.equal(await done.getState(), "failed");
      assert.match(
        done.failedReason,
        /may cost up to \$[\d.]+ .* over the job's max_cost_usd \$0\.000001/,
      );
      assert.equal(stub.jobRequests().length, 0);
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "an LLM_PRICES file that cannot be used stops the pool at start (exit 2), naming the file and what is wrong",
  integration,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "ppr-prices-" });
    try {
      const missing = await runPpr([], baseEnv({ LLM_PRICES: `${dir}/none.json` }), 30_000);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, new RegExp(`${dir}/none\\.json`));
      await Deno.writeTextFile(
        `${dir}/bad.json`,
        JSON.stringify({ date: "2026-12-01", source: "us", models: { "claude/x": { input: -1 } } }),
      );
      const bad = await runPpr([], baseEnv({ LLM_PRICES: `${dir}/bad.json` }), 30_000);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /bad\.json/);
      assert.match(bad.stderr, /claude\/x/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
