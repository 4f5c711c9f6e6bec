/** Input that could stop a worker: a schema pattern that backtracks catastrophically. */

import { strict as assert } from "node:assert";
import { type Job, Queue } from "bullmq";
import type { Redis } from "ioredis";
import { startRedis } from "../testing/redis.ts";
import { startSupervisor } from "../testing/ppr.ts";
import { waitUntil } from "../testing/wait.ts";
import { JOB_FIELDS, jobKey } from "../redis/bullmq_internals.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

/** `^(a+)+$` against 44 `a`s and a `b`: about 2^44 steps for a backtracking engine. */
const POISON_PATTERN = "^(a+)+$";
const POISON_ANSWER = JSON.stringify({ code: "a".repeat(44) + "b" });

async function finished(queue: Queue, job: Job, what: string): Promise<Job> {
  await waitUntil(async () => ["completed", "failed"].includes(await job.getState()), {
    what,
    timeoutMs: 60_000,
  });
  return (await queue.getJob(job.id!))!;
}

Deno.test(
  "a schema pattern that backtracks catastrophically fails its job at once, naming the pattern, while the worker's other job completes and the worker is not restarted",
  integration,
  async () => {
    await using redis = await startRedis();
    const queue = new Queue("llm", { connection: redis.client() });
    queue.on("error", () => {});
    await using supervisor = startSupervisor(["--count", "1", "--concurrency", "2"], {
      redisUrl: redis.url,
    });
    try {
      await supervisor.waitForHealth((health) => health.workers_alive === 1, "a worker");
      // The echo provider answers with the prompt: the answer is the poison string.
      const poisoned = await queue.add("llm", {
        prompt: POISON_ANSWER,
        format: {
          type: "object",
          properties: { code: { type: "string", pattern: POISON_PATTERN } },
        },
      }, { attempts: 3 });
      const good = await queue.add("llm", {
        prompt: "hello",
        provider: { latency_ms: 300 },
      });
      const poisonedDone = await finished(queue, poisoned, "the job with the poison pattern");
      assert.equal(await poisonedDone.getState(), "failed");
      assert.ok(
        poisonedDone.failedReason.includes(JSON.stringify(POISON_PATTERN)),
        `the reason names the pattern: ${poisonedDone.failedReason}`,
      );
      assert.equal(poisonedDone.attemptsMade, 1, "failed at once, no retry");
      const goodDone = await finished(queue, good, "the good job");
      assert.equal(await goodDone.getState(), "completed");
      const health = (await supervisor.health()).body;
      assert.equal(health.workers[0].restarts, 0, "the worker was not restarted");
    } finally {
      await queue.close();
    }
  },
);

/**
 * Adds a job to a paused queue, corrupts one field of its record in Redis, and resumes the
 * queue: the worker takes the corrupt record as it is.
 */
async function corruptJob(
  queue: Queue,
  client: Redis,
  field: string,
  value: string,
): Promise<string> {
  await queue.pause();
  const job = await queue.add("llm", { prompt: "hello" }, { attempts: 3 });
  await client.hset(jobKey("bull", "llm", job.id!), field, value);
  await queue.resume();
  return job.id!;
}

for (
  const [field, value, reason] of [
    ["opts", "{not json", /opts is not JSON/],
    [JOB_FIELDS.attemptsMade, "two", /attemptsMade \(atm\) is not a whole number: "two"/],
  ] as const
) {
  Deno.test(
    `a job whose record has ${field} = ${
      JSON.stringify(value)
    } fails at once with a reason naming the field, in the failed list, not lost and not left active`,
    integration,
    async () => {
      await using redis = await startRedis();
      const queue = new Queue("llm", { connection: redis.client() });
      queue.on("error", () => {});
      await using supervisor = startSupervisor(["--count", "1"], { redisUrl: redis.url });
      try {
        await supervisor.waitForHealth((health) => health.workers_alive === 1, "a worker");
        const client = redis.client();
        const id = await corruptJob(queue, client, field, value);
        await waitUntil(async () => (await queue.getFailedCount()) === 1, {
          what: "the corrupt job in the failed list",
          timeoutMs: 60_000,
        });
        const failedReason = await client.hget(jobKey("bull", "llm", id), JOB_FIELDS.failedReason);
        assert.match(failedReason ?? "", reason);
        assert.equal(await queue.getActiveCount(), 0, "not left active");
        const good = await queue.add("llm", { prompt: "after" });
        const goodDone = await finished(queue, good, "a good job after it");
        assert.equal(await goodDone.getState(), "completed", "the worker goes on");
      } finally {
        await queue.close();
      }
    },
  );
}
