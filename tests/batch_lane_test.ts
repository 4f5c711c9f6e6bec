/**
 * The batch lane end to end, with real supervisors, a real Redis and the stubs of the providers'
 * batch APIs (driven by the official SDKs): jobs collected, submitted as one batch, parked
 * without a slot, completed at the batch price with the direct lane's routing; errored and
 * expired requests retried by the job's policy; the lane refused where there is no batch API.
 */

import { strict as assert } from "node:assert";
import { BATCH_PRICE_SHARE, costOf, priceOf, SHIPPED_PRICES } from "../economics/prices.ts";
import { collectionSize, listBatches, readBatch } from "../jobs/batch/store.ts";
import { parseBudgetPeriod, parseBudgets } from "../config/economics_rules.ts";
import { readBudgets } from "../economics/spend.ts";
import { clearPause, pauseProvider } from "../providers/pause.ts";
import { baseEnv, logRecords, runPpr, startSupervisor, type Supervisor } from "../testing/ppr.ts";
import { type RedisServer, startRedis } from "../testing/redis.ts";
import { claudeApiEnv, type StubMessageBatchesOptions } from "../testing/stub_message_batches.ts";
import { startStubClaudeApi } from "../testing/stub_claude_api.ts";
import { startStubOpenAiBatch } from "../testing/stub_openai_batch.ts";
import { startStubLlm } from "../testing/stub_llm.ts";
import { finishedJob, producerQueue } from "../testing/jobs.ts";
import { scrape, value } from "../testing/metrics.ts";
import { allFinished, FAST_LANE } from "../testing/batch_lane.ts";
import { waitUntil } from "../testing/wait.ts";
import { delay } from "../async/mod.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

const FAKE_CLAUDE = new URL("../testing/fake_claude", import.meta.url).pathname;

/**
 * Redis, the Claude API's stubs (Messages and Message Batches), a producer, a result queue, and
 * a supervisor of one worker; all stopped at the end.
 */
async function claudeBatchFleet(
  env: Record<string, string>,
  stubOptions: StubMessageBatchesOptions = {},
) {
  const redis = await startRedis();
  const api = startStubClaudeApi({ batches: stubOptions });
  const stub = api.batches;
  const queue = producerQueue(redis);
  const results = producerQueue(redis, "results");
  let supervisor: Supervisor | undefined;
  const dispose = async () => {
    await Promise.allSettled([queue.close(), results.close()]);
    await Promise.allSettled([supervisor?.[Symbol.asyncDispose](), api[Symbol.asyncDispose]()]);
    await redis[Symbol.asyncDispose]();
  };
  try {
    supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: { ...claudeApiEnv(api.url), ...FAST_LANE, LLM_RESULT_QUEUES: "results", ...env },
    });
    await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
  } catch (error) {
    await dispose();
    throw error;
  }
  return { redis, api, stub, queue, results, supervisor, [Symbol.asyncDispose]: dispose };
}

Deno.test(
  "a queue in LLM_BATCH_QUEUES: 5 jobs go in one Message Batch, wait in delayed with no worker slot, and complete at half the price with their results routed once each",
  integration,
  async () => {
    await using fleet = await claudeBatchFleet(
      { LLM_BATCH_QUEUES: "llm", BATCH_MAX_WAIT: "1h" },
      { processingMs: 1500 },
    );
    const { stub, queue, results, redis } = fleet;
    const jobs = await queue.addBulk(
      Array.from({ length: 5 }, (_, index) => ({
        name: "llm",
        data: { prompt: `page ${index}`, metadata: { page: index } },
      })),
    );
    // All five wait in delayed while their batch is open: none holds a slot or a lock.
    await waitUntil(() => stub.batches().length === 1, { what: "one batch at the stub" });
    const counts = await queue.getJobCounts("active", "delayed", "waiting");
    assert.equal(counts.active, 0, "no job active while its batch is open");
    assert.equal(counts.delayed + counts.waiting, 5);
    const done = await allFinished(queue, jobs);
    for (const job of done) assert.equal(await job.getState(), "completed", job.failedReason);

    const [batch] = stub.batches();
    assert.equal(batch.requests.length, 5, "one batch of the 5 jobs");
    const prompts = batch.requests.map((request) => JSON.stringify(request.params.messages));
    for (let index = 0; index < 5; index++) {
      assert.ok(prompts.some((text) => text.includes(`page ${index}`)), `page ${index} was sent`);
    }
    for (const job of done) {
      const result = job.returnvalue;
      assert.equal(result.lane, "batch");
      assert.equal(typeof result.batch_id, "string");
      const price = priceOf(SHIPPED_PRICES, "claude", result.model)!;
      assert.ok(price, `a price for ${result.model}`);
      assert.equal(
        result.cost_usd,
        costOf(result.usage, price, { multiplier: BATCH_PRICE_SHARE }),
        "the cost is the batch price: half the direct one",
      );
      assert.ok(result.cost_usd > 0);
    }
    // Each result was routed once, under the id derived from its job.
    const routed = await results.getJobs(["waiting", "completed", "active", "delayed"]);
    assert.deepEqual(
      routed.map((job) => job.id).sort(),
      done.map((job) => `llm-${job.id}`).sort(),
    );
    // /metrics counts them in the batch lane, at what they cost there.
    const call = { provider: "claude", model: done[0].returnvalue.model, queue: "llm" };
    const samples = await waitUntil(async () => {
      const each = await scrape(fleet.supervisor);
      return value(each, "ppr_llm_calls_total", { ...call, lane: "batch" }) === 5
        ? each
        : undefined;
    }, { what: "5 batch calls counted in /metrics", timeoutMs: 15_000 });
    assert.equal(value(samples, "ppr_llm_calls_total", { ...call, lane: "direct" }), 0);
    const paid = done.reduce((sum, job) => sum + job.returnvalue.cost_usd, 0);
    const counted = value(samples, "ppr_llm_cost_usd_total", { ...call, lane: "batch" });
    assert.ok(Math.abs(counted - paid) < 1e-12, `${counted} counted, ${paid} paid`);
    assert.equal(value(samples, "ppr_llm_cost_usd_total", { ...call, lane: "direct" }), 0);
    const listed = await listBatches(redis.client());
    assert.equal(listed.open.length, 0);
    assert.equal(listed.recent.length, 1);
    assert.equal(listed.recent[0].succeeded, 5);
    assert.equal(listed.recent[0].providerId, batch.batch.id);
  },
);

Deno.test(
  "of 7 jobs collected with BATCH_MAX_JOBS 5, one batch of 5 is submitted and the other 2 wait for more jobs or BATCH_MAX_WAIT",
  integration,
  async () => {
    await using fleet = await claudeBatchFleet({
      LLM_BATCH_QUEUES: "llm",
      BATCH_MAX_WAIT: "1h",
      LOG_LEVEL: "debug",
    });
    const { stub, queue, redis, supervisor } = fleet;
    // Held back by a pause until all 7 are collected, so that the desk sees them at once.
    await pauseProvider(redis.client(), "claude", "quota_exceeded", "a test's pause", {
      resetInMs: 3_600_000,
    });
    await queue.addBulk(
      Array.from({ length: 7 }, (_, index) => ({ name: "llm", data: { prompt: `row ${index}` } })),
    );
    await waitUntil(async () => (await collectionSize(redis.client())).count === 7, {
      what: "7 jobs collected",
    });
    await waitUntil(
      () => logRecords(supervisor.logs).some((record) => /is paused/.test(String(record.message))),
      { what: "the desk to hold the batch back for the pause" },
    );
    await clearPause(redis.client(), "claude");
    await waitUntil(() => stub.batches().length >= 1, { what: "the first batch" });
    await delay(1000); // the desk's next looks (BATCH_POLL_INTERVAL 200ms)
    assert.deepEqual(stub.batches().map((batch) => batch.requests.length), [5]);
    assert.equal((await collectionSize(redis.client())).count, 2, "2 jobs still collected");
  },
);

Deno.test(
  "a job with lane batch in an ordinary queue goes through the batch lane after BATCH_MAX_WAIT with fewer jobs than BATCH_MAX_JOBS",
  integration,
  async () => {
    await using fleet = await claudeBatchFleet({});
    const { stub, queue } = fleet;
    const job = await queue.add("llm", { prompt: "later is fine", lane: "batch" });
    const done = await finishedJob(queue, job, "the batch job", 60_000);
    assert.equal(await done.getState(), "completed", done.failedReason);
    assert.equal(done.returnvalue.lane, "batch");
    assert.equal(stub.batches().length, 1);
    assert.equal(stub.batches()[0].requests.length, 1);
  },
);

Deno.test(
  "in one batch, a request that errored as invalid fails its job after one try while the others complete; one that errored as a server error is retried by the job's policy in the batch lane",
  integration,
  async () => {
    await using fleet = await claudeBatchFleet({ LLM_BATCH_QUEUES: "llm" });
    const { stub, queue } = fleet;
    const invalid = await queue.add("llm", { prompt: "refused BATCH_ERRORED=400" }, {
      attempts: 3,
    });
    const failing = await queue.add("llm", { prompt: "server error BATCH_ERRORED" }, {
      attempts: 2,
      backoff: { type: "fixed", delay: 10 },
    });
    const fine = await queue.addBulk(
      [1, 2].map((n) => ({ name: "llm", data: { prompt: `ok ${n}` } })),
    );
    const [invalidDone, failingDone, ...fineDone] = await allFinished(queue, [
      invalid,
      failing,
      ...fine,
    ]);
    for (const job of fineDone) assert.equal(await job.getState(), "completed", job.failedReason);
    assert.equal(await invalidDone.getState(), "failed");
    assert.equal(invalidDone.attemptsMade, 1, "an invalid request is not tried again");
    assert.match(invalidDone.failedReason, /BATCH_ERRORED=400.*\(batch [0-9a-f]{16}\)/);
    assert.equal(await failingDone.getState(), "failed");
    assert.equal(failingDone.attemptsMade, 2, "a server error is retried by the job's attempts");
    const sentIn = stub.batches().filter((batch) =>
      batch.requests.some((request) =>
        JSON.stringify(request.params.messages).includes("server error")
      )
    );
    assert.equal(sentIn.length, 2, "its retry went in a second batch");
  },
);

Deno.test(
  "a batch that expires: its requests' jobs are retried by their policy and complete in the next batch",
  integration,
  async () => {
    // Batches take a minute of the stub's clock; the test moves that clock on.
    let skippedMs = 0;
    // Both jobs in one batch, and both retries in the next, however slowly they are collected.
    await using fleet = await claudeBatchFleet({
      LLM_BATCH_QUEUES: "llm",
      BATCH_MAX_JOBS: "2",
      BATCH_MAX_WAIT: "1h",
    }, {
      processingMs: 60_000,
      clock: { now: () => performance.now() + skippedMs },
    });
    const { stub, queue } = fleet;
    const jobs = await queue.addBulk([1, 2].map((n) => ({
      name: "llm",
      data: { prompt: `expiring ${n}` },
      opts: { attempts: 2, backoff: { type: "fixed", delay: 10 } },
    })));
    const [first] = await waitUntil(() => stub.batches().length === 1 && stub.batches(), {
      what: "the first batch",
    });
    stub.expire(first.batch.id);
    await waitUntil(() => stub.batches().length === 2, { what: "the retries' batch" });
    skippedMs = 61_000;
    const done = await allFinished(queue, jobs);
    for (const job of done) {
      assert.equal(await job.getState(), "completed", job.failedReason);
      // BullMQ counts the completing try too: one failed try (the expired batch), one that completed.
      assert.equal(job.attemptsMade, 2);
    }
    assert.equal(stub.batches()[0].batch.processing_status, "ended");
    assert.equal(stub.batches()[1].requests.length, 2);
  },
);

Deno.test(
  "a job whose batch request errored and whose retry_lane is direct is retried as a direct call to the Messages API and completes",
  integration,
  async () => {
    await using fleet = await claudeBatchFleet({ LLM_BATCH_QUEUES: "llm" });
    const { api, queue } = fleet;
    const job = await queue.add(
      "llm",
      { prompt: "urgent after all BATCH_ERRORED", retry_lane: "direct" },
      { attempts: 2, backoff: { type: "fixed", delay: 10 } },
    );
    const done = await finishedJob(queue, job, "the job", 60_000);
    assert.equal(await done.getState(), "completed", done.failedReason);
    // BullMQ counts the completing try too: one failed try (in the batch lane), one that completed.
    assert.equal(done.attemptsMade, 2);
    assert.equal(done.returnvalue.lane, undefined, "its result came from the direct lane");
    assert.equal(api.batches.batches().length, 1);
    assert.equal(api.messages.jobRequests().length, 1);
  },
);

Deno.test(
  "a job added with the id of an earlier batch job that completed and was removed is sent in a batch of its own, not completed with the earlier job's answer",
  integration,
  async () => {
    await using fleet = await claudeBatchFleet({ LLM_BATCH_QUEUES: "llm" });
    const { stub, queue } = fleet;
    const first = await queue.add("llm", { prompt: "the page as it was" }, { jobId: "page-1" });
    const firstDone = await finishedJob(queue, first, "the first job", 60_000);
    assert.equal(firstDone.returnvalue.text, "stub: the page as it was");
    await firstDone.remove();
    // A producer that names its jobs adds the same id again once the first one is gone.
    const second = await queue.add("llm", { prompt: "the page as it is now" }, {
      jobId: "page-1",
    });
    const secondDone = await finishedJob(queue, second, "the second job", 60_000);
    assert.equal(await secondDone.getState(), "completed", secondDone.failedReason);
    assert.equal(secondDone.returnvalue.text, "stub: the page as it is now");
    assert.equal(stub.batches().length, 2, "the second job went in a batch of its own");
  },
);

Deno.test(
  "a budget reserves each job's worst case at the batch price when its batch is submitted and settles it to the real cost when the results arrive",
  integration,
  async () => {
    await using fleet = await claudeBatchFleet(
      { LLM_BATCH_QUEUES: "llm", LLM_BUDGET_USD: "5", BATCH_MAX_JOBS: "3", BATCH_MAX_WAIT: "1h" },
      { processingMs: 2000 },
    );
    const { stub, queue, redis } = fleet;
    const budgets = parseBudgets("5", { providers: ["claude"] });
    const period = parseBudgetPeriod("day");
    assert.ok(budgets.ok && period.ok);
    const jobs = await queue.addBulk([1, 2, 3].map((n) => ({
      name: "llm",
      data: { prompt: `budgeted ${n}`, provider: { max_tokens: 1000 } },
    })));
    await waitUntil(() => stub.batches().length === 1, { what: "the batch" });
    const [whileOpen] = await readBudgets(redis.client(), budgets.value, period.value, Date.now());
    const done = await allFinished(queue, jobs);
    const [after] = await readBudgets(redis.client(), budgets.value, period.value, Date.now());
    // Each job's worst case at the batch price: 1000 output tokens of the default model.
    const price = priceOf(SHIPPED_PRICES, "claude", done[0].returnvalue.model)!;
    const outputOnly = (1000 * price.output / 1_000_000) * BATCH_PRICE_SHARE;
    assert.ok(whileOpen.reservedUsd >= 3 * outputOnly, `reserved ${whileOpen.reservedUsd}`);
    assert.equal(after.reservedUsd, 0);
    const cost = done.reduce((sum, job) => sum + job.returnvalue.cost_usd, 0);
    assert.ok(Math.abs(after.spentUsd - cost) < 1e-9, `spent ${after.spentUsd}, cost ${cost}`);
  },
);

Deno.test(
  "a budget too small for a job's worst case holds its batch back: the jobs stay collected and nothing is submitted",
  integration,
  async () => {
    await using fleet = await claudeBatchFleet({
      LLM_BATCH_QUEUES: "llm",
      LLM_BUDGET_USD: "0.001",
      LOG_LEVEL: "debug",
    });
    const { stub, queue, supervisor } = fleet;
    await queue.add("llm", { prompt: "dear", provider: { max_tokens: 4000 } });
    await waitUntil(
      () =>
        logRecords(supervisor.logs).some((record) =>
          /budget overall reached/.test(String(record.message))
        ),
      { what: "the desk to log the budget" },
    );
    assert.equal(stub.batches().length, 0);
    assert.equal((await queue.getJobCounts("delayed")).delayed, 1);
  },
);

Deno.test(
  "while the provider is paused the desk submits nothing; once the pause is cleared the collected jobs go in a batch and complete",
  integration,
  async () => {
    await using fleet = await claudeBatchFleet({ LLM_BATCH_QUEUES: "llm", LOG_LEVEL: "debug" });
    const { stub, queue, redis, supervisor } = fleet;
    await pauseProvider(redis.client(), "claude", "quota_exceeded", "a test's pause", {
      resetInMs: 3_600_000,
    });
    const job = await queue.add("llm", { prompt: "patient" });
    await waitUntil(
      () => logRecords(supervisor.logs).some((record) => /is paused/.test(String(record.message))),
      { what: "the desk to hold the batch back for the pause" },
    );
    assert.equal(stub.batches().length, 0);
    await clearPause(redis.client(), "claude");
    const done = await finishedJob(queue, job, "the job", 60_000);
    assert.equal(await done.getState(), "completed", done.failedReason);
    assert.equal(stub.batches().length, 1);
  },
);

Deno.test(
  "while the provider is paused, a job with lane direct in a queue of LLM_BATCH_QUEUES (whose Worker stays open to collect) waits in delayed with no attempt spent, then completes as a direct call",
  integration,
  async () => {
    await using fleet = await claudeBatchFleet({ LLM_BATCH_QUEUES: "llm" });
    const { api, stub, queue, redis } = fleet;
    const pause = await pauseProvider(
      redis.client(),
      "claude",
      "quota_exceeded",
      "a test's pause",
      {
        resetInMs: 3000,
      },
    );
    const job = await queue.add("llm", { prompt: "now please", lane: "direct" });
    const delayed = await waitUntil(async () => {
      const read = await queue.getJob(job.id!);
      return (await read?.getState()) === "delayed" ? read : undefined;
    }, { what: "the direct job in delayed" });
    assert.equal(delayed.attemptsMade, 0, "no attempt spent on the pause");
    // Until when: the delayed set's score (the job's `delay` counts from when it was moved, which
    // a loaded machine makes later than its timestamp).
    const score = await redis.client().zscore(`${queue.qualifiedName}:delayed`, job.id!);
    assert.ok(
      Math.floor(Number(score) / 0x1000) >= pause.retry_at - 1000,
      `delayed until the pause ends (score ${score}, pause until ${pause.retry_at})`,
    );
    const done = await finishedJob(queue, job, "the direct job", 60_000);
    assert.equal(await done.getState(), "completed", done.failedReason);
    assert.equal(done.returnvalue.lane, undefined, "not the batch lane's result");
    assert.equal(stub.batches().length, 0, "no batch");
    assert.equal(api.messages.jobRequests().length, 1, "one call to the Messages API");
  },
);

Deno.test(
  "ppr-worker batches cancel on an open batch: the stub cancels it, the desk reads the ended batch, and the job's canceled try is retried by its retry policy, through the batch lane again",
  integration,
  async () => {
    await using fleet = await claudeBatchFleet(
      { LLM_BATCH_QUEUES: "llm", BATCH_POLL_INTERVAL: "10m" },
      { processingMs: 600_000 },
    );
    const { api, stub, queue, redis } = fleet;
    const job = await queue.add("llm", { prompt: "never mind" });
    const open = await waitUntil(
      async () => (await listBatches(redis.client())).open.find((batch) => batch.phase === "open"),
      { what: "an open batch", timeoutMs: 30_000 },
    );
    const canceled = await runPpr(
      ["batches", "cancel", open.id],
      baseEnv({ REDIS_URL: redis.url, ...claudeApiEnv(api.url) }),
    );
    assert.equal(canceled.code, 0, canceled.stderr);
    assert.equal(stub.batches()[0].batch.id, open.providerId);
    assert.equal(typeof stub.batches()[0].batch.cancel_initiated_at, "string");
    const done = await waitUntil(async () => {
      const record = await readBatch(redis.client(), open.id);
      return record?.phase === "done" ? record : undefined;
    }, { what: "the desk to read the canceled batch", timeoutMs: 30_000 });
    assert.equal(done.failed, 1);
    assert.equal(done.succeeded, 0);
    assert.equal(stub.batches()[0].results[0].result.type, "canceled");
    await waitUntil(() => stub.batches().length === 2, {
      what: "the job's retry in a new batch",
      timeoutMs: 30_000,
    });
    assert.match(
      JSON.stringify(stub.batches()[1].requests[0].params.messages),
      /never mind/,
    );
    const { logs } = await queue.getJobLogs(job.id!);
    assert.match(
      logs.join("\n"),
      new RegExp(`the batch was canceled before this request ran \\(batch ${open.id}\\)`),
    );
  },
);

Deno.test(
  "the Claude CLI has no batch API: a queue in LLM_BATCH_QUEUES is refused at start with exit 2",
  integration,
  async () => {
    await using redis: RedisServer = await startRedis();
    const refused = await runPpr(
      [],
      baseEnv({ REDIS_URL: redis.url, LLM_PROVIDER: "claude", LLM_BATCH_QUEUES: "llm" }),
    );
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /LLM_BATCH_QUEUES = "llm": LLM_PROVIDER claude has no batch API/);
  },
);

Deno.test(
  "a job with lane batch for the Claude CLI fails at once, after one try, saying the CLI has no batch API",
  integration,
  async () => {
    await using redis = await startRedis();
    const home = await Deno.makeTempDir({ prefix: "ppr-fake-claude-" });
    await Deno.writeTextFile(`${home}/fake-claude-auth`, "in");
    const queue = producerQueue(redis);
    await using supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: { LLM_PROVIDER: "claude", HOME: home, CLAUDE_CLI: FAKE_CLAUDE },
    });
    try {
      await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
      const job = await queue.add("llm", { prompt: "cheap please", lane: "batch" }, {
        attempts: 3,
      });
      const done = await finishedJob(queue, job, "the job");
      assert.equal(await done.getState(), "failed");
      assert.equal(done.attemptsMade, 1);
      assert.match(done.failedReason, /not sent in the batch lane: claude has no batch API/);
    } finally {
      await queue.close();
      await Deno.remove(home, { recursive: true });
    }
  },
);

Deno.test(
  "an OpenAI-compatible provider's batch lane: jobs go in one batch through the Files and Batch APIs and complete at half the price",
  integration,
  async () => {
    await using redis = await startRedis();
    await using stub = startStubOpenAiBatch({ processingMs: 500 });
    const queue = producerQueue(redis);
    await using supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: {
        LLM_PROVIDER: "openai",
        OPENAI_API_KEY: "k",
        OPENAI_BASE_URL: `${stub.url}/v1`,
        LLM_MODEL_NAME: "gpt-4o-mini",
        LLM_BATCH_QUEUES: "llm",
        ...FAST_LANE,
        BATCH_MAX_JOBS: "3",
        BATCH_MAX_WAIT: "1h",
      },
    });
    try {
      await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
      const jobs = await queue.addBulk(
        Array.from(
          { length: 3 },
          (_, index) => ({ name: "llm", data: { prompt: `row ${index}` } }),
        ),
      );
      const done = await allFinished(queue, jobs);
      for (const job of done) {
        assert.equal(await job.getState(), "completed", job.failedReason);
        const price = priceOf(SHIPPED_PRICES, "openai", job.returnvalue.model)!;
        assert.equal(
          job.returnvalue.cost_usd,
          costOf(job.returnvalue.usage, price, { multiplier: BATCH_PRICE_SHARE }),
        );
      }
      assert.equal(stub.batches().length, 1);
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "an OpenAI-compatible endpoint without a batch API (404): the batch's jobs fail after one try, saying the server has no Batch API",
  integration,
  async () => {
    await using redis = await startRedis();
    await using stub = startStubLlm();
    const queue = producerQueue(redis);
    await using supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: {
        LLM_PROVIDER: "openai",
        OPENAI_API_KEY: "k",
        OPENAI_BASE_URL: `${stub.url}/v1`,
        LLM_BATCH_QUEUES: "llm",
        ...FAST_LANE,
      },
    });
    try {
      await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
      const job = await queue.add("llm", { prompt: "no batches here" }, { attempts: 3 });
      const done = await finishedJob(queue, job, "the job", 60_000);
      assert.equal(await done.getState(), "failed");
      assert.equal(done.attemptsMade, 1);
      assert.match(
        done.failedReason,
        /the provider refused the batch: the server at \S+ has no Batch API \(\/v1\/files or \/v1\/batches answered 404\)/,
      );
    } finally {
      await queue.close();
    }
  },
);
