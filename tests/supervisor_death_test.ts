/** A supervisor killed with kill -9: its orphaned workers finish what they hold and exit by themselves. */

import { strict as assert } from "node:assert";
import { Queue, QueueEvents } from "bullmq";
import { startRedis } from "../testing/redis.ts";
import { startSupervisor } from "../testing/ppr.ts";
import { processExists, waitUntil } from "../testing/wait.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "kill -9 of the supervisor while its workers hold jobs: every job completes once, by the worker that held it, none stalls, and the workers exit",
  integration,
  async () => {
    await using redis = await startRedis();
    const queue = new Queue("llm", { connection: redis.client() });
    queue.on("error", () => {});
    const events = new QueueEvents("llm", { connection: redis.client() });
    events.on("error", () => {});
    let stalled = 0;
    events.on("stalled", () => stalled++);
    await using supervisor = startSupervisor(["--count", "2", "--concurrency", "2"], {
      redisUrl: redis.url,
    });
    try {
      await events.waitUntilReady();
      const idle = await supervisor.waitForHealth(
        (health) => health.workers.every((worker) => worker.state === "idle"),
        "idle workers",
      );
      const pids = idle.workers.map((worker) => worker.pid!);
      const jobs = await queue.addBulk(
        Array.from({ length: 4 }, (_, index) => ({
          name: "llm",
          data: { prompt: `job ${index}`, provider: { latency_ms: 2000 } },
        })),
      );
      await waitUntil(async () => (await queue.getActiveCount()) === 4, {
        what: "all 4 jobs held by the workers",
      });
      const holders = new Map<string, string>();
      for (const job of await queue.getJobs(["active"])) holders.set(job.id!, job.processedBy!);
      supervisor.signal("SIGKILL");
      await supervisor.exited;

      await waitUntil(async () => (await queue.getCompletedCount()) === 4, {
        what: "the 4 jobs to complete after the supervisor died",
        timeoutMs: 60_000,
      });
      for (const added of jobs) {
        const job = (await queue.getJob(added.id!))!;
        assert.equal(job.stalledCounter, 0, `job ${job.id} never stalled`);
        assert.equal(job.attemptsMade, 1, `job ${job.id} ran once`);
        assert.equal(
          job.processedBy,
          holders.get(job.id!),
          `job ${job.id} completed by its holder`,
        );
      }
      assert.equal(stalled, 0, "no stalled event");
      await waitUntil(() => pids.every((pid) => !processExists(pid)), {
        what: "the orphaned workers to exit",
        timeoutMs: 30_000,
      });
    } finally {
      await events.close();
      await queue.close();
    }
  },
);
