/** Input that could stop a worker: a schema pattern that backtracks catastrophically. */

import { strict as assert } from "node:assert";
import { type Job, Queue } from "bullmq";
import { startRedis } from "../testing/redis.ts";
import { startSupervisor } from "../testing/ppr.ts";
import { waitUntil } from "../testing/wait.ts";

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
