import { strict as assert } from "node:assert";
import { Queue, Worker } from "bullmq";
import { register } from "../redis/registrations.ts";
import { startRedis } from "../testing/redis.ts";
import { waitUntil } from "../testing/wait.ts";
import { JOB_STATES, readQueues } from "./queues.ts";
import { readSnapshot } from "./snapshot.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const PREFIX = "readmodel";

Deno.test(
  "readQueues counts each state as BullMQ's getJobCounts does and says whether the queue is paused; an unknown queue is all zeros",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    const queue = new Queue("llm", { connection: redis, prefix: PREFIX });
    const worker = new Worker(
      "llm",
      (job) => job.data.fail ? Promise.reject(new Error("no")) : Promise.resolve("ok"),
      { connection: redis.duplicate(), prefix: PREFIX },
    );
    try {
      await queue.add("llm", { fail: true });
      await queue.add("llm", {});
      await waitUntil(
        async () =>
          (await queue.getJobCounts("completed", "failed")).failed === 1 &&
            (await queue.getCompletedCount()) === 1 || undefined,
        { what: "one job completed, one failed", timeoutMs: 10_000 },
      );
      await worker.close();
      await queue.pause();
      await queue.add("llm", {});
      await queue.add("llm", {}, { priority: 2 });
      await queue.add("llm", {}, { delay: 3_600_000 });
      const [llm, none] = await readQueues(redis, PREFIX, ["llm", "none"]);
      assert.deepEqual(llm, {
        name: "llm",
        paused: true,
        counts: await queue.getJobCounts(...JOB_STATES),
      });
      assert.deepEqual(llm.counts, {
        waiting: 1,
        prioritized: 1,
        active: 0,
        delayed: 1,
        completed: 1,
        failed: 1,
      });
      assert.deepEqual(none, {
        name: "none",
        paused: false,
        counts: { waiting: 0, prioritized: 0, active: 0, delayed: 0, completed: 0, failed: 0 },
      });
    } finally {
      await worker.close();
      await queue.close();
    }
  },
);

Deno.test(
  "readSnapshot: a registered worker with the job it holds, a BullMQ worker without a registration, and the queues a registration names",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    const queue = new Queue("llm", { connection: redis, prefix: PREFIX });
    const { promise: release, resolve } = Promise.withResolvers<void>();
    const holder = new Worker("llm", () => release, {
      connection: redis.duplicate(),
      prefix: PREFIX,
      name: "worker-a-1",
    });
    const python = new Worker("other", () => Promise.resolve(), {
      connection: redis.duplicate(),
      prefix: PREFIX,
      name: "python-1",
    });
    try {
      await register(redis, {
        name: "worker-a-1",
        hostname: "a",
        pid: 42,
        queues: ["llm", "discovered"],
        started_at: new Date().toISOString(),
        heartbeat_at: new Date().toISOString(),
        active_jobs: 1,
        processed: 3,
        failed: 0,
      });
      const job = await queue.add("llm", {});
      await waitUntil(async () => (await queue.getActiveCount()) === 1 || undefined, {
        what: "the job active",
        timeoutMs: 10_000,
      });
      const snapshot = await readSnapshot(redis, {
        redisUrl: "redis://:secret-pw@127.0.0.1:6379",
        prefix: PREFIX,
        queues: ["llm", "other"],
        discoverQueues: true,
      });
      assert.equal(snapshot.redis, "redis://:***@127.0.0.1:6379");
      assert.deepEqual(snapshot.queues.map((info) => [info.name, info.counts.active]), [
        ["llm", 1],
        ["other", 0],
        ["discovered", 0],
      ]);
      assert.deepEqual(
        snapshot.workers.map((worker) => [
          worker.name,
          worker.registered,
          worker.state,
          worker.current_jobs,
          worker.queues,
        ]),
        [
          ["python-1", false, "idle", [], ["other"]],
          ["worker-a-1", true, "busy", [{ queue: "llm", id: job.id }], ["llm", "discovered"]],
        ],
      );
      const llmOnly = await readSnapshot(redis, {
        redisUrl: "redis://127.0.0.1:6379",
        prefix: PREFIX,
        queues: ["llm"],
        discoverQueues: false,
      });
      assert.deepEqual(llmOnly.queues.map((info) => info.name), ["llm"]);
      assert.deepEqual(llmOnly.workers.map((worker) => worker.name), ["worker-a-1"]);
    } finally {
      resolve();
      await Promise.all([holder.close(), python.close()]);
      await queue.close();
    }
  },
);
