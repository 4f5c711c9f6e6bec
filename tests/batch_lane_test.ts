/**
 * The batch lane end to end, with real supervisors, a real Redis and the stubs of the providers'
 * batch APIs (driven by the official SDKs): jobs collected, submitted as one batch, parked
 * without a slot, completed at the batch price with the direct lane's routing; errored and
 * expired requests retried by the job's policy; the lane refused where there is no batch API.
 */

import { strict as assert } from "node:assert";
import { BATCH_PRICE_SHARE, costOf, priceOf, SHIPPED_PRICES } from "../economics/prices.ts";
import { listBatches } from "../jobs/batch/store.ts";
import { baseEnv, runPpr, startSupervisor, type Supervisor } from "../testing/ppr.ts";
import { type RedisServer, startRedis } from "../testing/redis.ts";
import {
  startStubMessageBatches,
  type StubMessageBatchesOptions,
} from "../testing/stub_message_batches.ts";
import { startStubOpenAiBatch } from "../testing/stub_openai_batch.ts";
import { finishedJob, producerQueue } from "../testing/jobs.ts";
import { allFinished, claudeApi, FAST_LANE } from "../testing/batch_lane.ts";
import { waitUntil } from "../testing/wait.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

/** Redis, a Message Batches stub, a producer, a result queue, and a supervisor; all stopped at the end. */
async function claudeBatchFleet(
  env: Record<string, string>,
  stubOptions: StubMessageBatchesOptions = {},
) {
  const redis = await startRedis();
  const stub = startStubMessageBatches(stubOptions);
  const queue = producerQueue(redis);
  const results = producerQueue(redis, "results");
  let supervisor: Supervisor | undefined;
  const dispose = async () => {
    await Promise.allSettled([queue.close(), results.close()]);
    await Promise.allSettled([supervisor?.[Symbol.asyncDispose](), stub[Symbol.asyncDispose]()]);
    await redis[Symbol.asyncDispose]();
  };
  try {
    supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: { ...claudeApi(stub.url), ...FAST_LANE, LLM_RESULT_QUEUES: "results", ...env },
    });
    await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
  } catch (error) {
    await dispose();
    throw error;
  }
  return { redis, stub, queue, results, supervisor, [Symbol.asyncDispose]: dispose };
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
    const listed = await listBatches(redis.client());
    assert.equal(listed.open.length, 0);
    assert.equal(listed.recent.length, 1);
    assert.equal(listed.recent[0].succeeded, 5);
    assert.equal(listed.recent[0].providerId, batch.batch.id);
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
  "a batch request that errored is retried by the job's own policy, and one that expired too; with retry_lane direct the retry is a direct call",
  integration,
  async () => {
    await using fleet = await claudeBatchFleet({ LLM_BATCH_QUEUES: "llm" });
    const { stub, queue } = fleet;
    const errored = await queue.add("llm", { prompt: "once BATCH_ERRORED" }, {
      attempts: 1,
    });
    const ok = await queue.add("llm", { prompt: "fine" });
    const [erroredDone, okDone] = await allFinished(queue, [errored, ok]);
    assert.equal(await okDone.getState(), "completed", okDone.failedReason);
    assert.equal(await erroredDone.getState(), "failed");
    assert.match(erroredDone.failedReason, /batch [0-9a-f]{16}/);
    assert.ok(stub.batches().length >= 1);
  },
);

Deno.test(
  "the Claude CLI has no batch API: a queue in LLM_BATCH_QUEUES is refused at start with exit 2, and a job with lane batch fails at once saying why",
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
