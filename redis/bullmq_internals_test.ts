/**
 * The contract with BullMQ: each assumption of `bullmq_internals.ts` (and of the code that
 * leans on BullMQ's behaviour past its docs) checked against the installed BullMQ, a real
 * Queue and Worker and a real redis-server. A failure names the assumption and who relies on it.
 */

import { strict as assert } from "node:assert";
import * as bullmq from "bullmq";
import { type Job, type JobJson, Queue } from "bullmq";
import * as distErrors from "bullmq/errors";
import * as distQueue from "bullmq/queue";
import { Worker as DistWorker } from "bullmq/worker";
import type { Redis } from "ioredis";
import { startRedis } from "../testing/redis.ts";
import { waitUntil } from "../testing/wait.ts";
import {
  BULLMQ_VERSION_CHECKED,
  delayedScoreDueBy,
  isTokenOf,
  JOB_FIELDS,
  jobKey,
  jobLockKey,
  jobLogsKey,
  loadQueueClass,
  META_PAUSED_FIELD,
  metaKey,
  STATE_KEYS,
  stateKey,
  Worker,
  workerClient,
  workerNameOfClient,
} from "./bullmq_internals.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const PREFIX = "contract";

/** The message of a broken assumption: what was assumed, who relies on it, what to do. */
function broken(assumption: string, reliedOnBy: string): string {
  return `BullMQ ${BULLMQ_VERSION_CHECKED} contract broken: ${assumption} ` +
    `(relied on by ${reliedOnBy}); re-read BullMQ's source and update redis/bullmq_internals.ts`;
}

function openQueue(redis: Redis, name: string): Queue {
  const queue = new Queue(name, { connection: redis, prefix: PREFIX });
  queue.on("error", () => {});
  return queue;
}

/** A running Worker holding one job of `queue` until `release()`; its processor saw `token`. */
async function holdOneJob(redis: Redis, queue: Queue, workerName: string) {
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  const { promise: taken, resolve: take } = Promise.withResolvers<{ job: Job; token: string }>();
  const worker = new Worker(queue.name, async (job: Job, token?: string) => {
    take({ job, token: token ?? "" });
    await released;
  }, { connection: redis.duplicate(), prefix: PREFIX, name: workerName, concurrency: 1 });
  worker.on("error", () => {});
  const added = await queue.add("contract", { n: 1 });
  const { job, token } = await taken;
  assert.equal(job.id, added.id);
  return {
    worker,
    job,
    token,
    async close() {
      release();
      await worker.close();
    },
  };
}

Deno.test("the installed BullMQ is the version the contract was checked against", async () => {
  const index = import.meta.resolve("bullmq");
  const packageJson = new URL("../../package.json", index);
  const installed = JSON.parse(await Deno.readTextFile(packageJson)).version;
  assert.equal(
    installed,
    BULLMQ_VERSION_CHECKED,
    `BullMQ is now ${installed} (${packageJson.pathname}), the contract in ` +
      `redis/bullmq_internals.ts was checked against ${BULLMQ_VERSION_CHECKED}: re-read BullMQ's ` +
      "source for each assumption there (key layout, job hash fields, lock tokens, client names, " +
      "createJob, dist paths), run this test, then set BULLMQ_VERSION_CHECKED",
  );
  for (const path of ["bullmq/worker", "bullmq/queue", "bullmq/errors"]) {
    const resolved = import.meta.resolve(path);
    assert.ok(
      resolved.startsWith(new URL("../../", index).href),
      broken(
        `the import map's ${path} resolves inside the same bullmq package as "bullmq" (${resolved})`,
        "deno.json's import map",
      ),
    );
  }
});

Deno.test("BullMQ's dist paths bullmq/worker, bullmq/queue, bullmq/errors hold the index's own classes", async () => {
  assert.equal(
    DistWorker,
    bullmq.Worker,
    broken("bullmq/worker's Worker is the index's", "worker/safe_worker.ts, worker/run.ts"),
  );
  assert.equal(Worker, bullmq.Worker, broken("Worker is the index's", "redis/bullmq_internals.ts"));
  assert.equal(
    await loadQueueClass(),
    bullmq.Queue,
    broken("loadQueueClass loads the index's Queue", "jobs/results.ts"),
  );
  assert.equal(
    distQueue.Queue,
    bullmq.Queue,
    broken("bullmq/queue's Queue is the index's", "jobs/results.ts"),
  );
  for (const name of ["UnrecoverableError", "WaitingError", "DelayedError"] as const) {
    assert.equal(
      distErrors[name],
      bullmq[name],
      broken(
        `bullmq/errors' ${name} is the class BullMQ's Worker and Job check with instanceof`,
        "worker/processor.ts, worker/failure.ts, worker/give_back.ts, jobs/, supervisor give-back",
      ),
    );
  }
});

Deno.test(
  "a job a named Worker holds: its hash <prefix>:<queue>:<id> has pb = the Worker's name and ats, its id is in the :active list, its :lock holds the token <Worker id>:<n>",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    const queue = openQueue(redis, "held");
    const held = await holdOneJob(redis, queue, "worker-contract-1");
    try {
      const id = held.job.id!;
      const key = jobKey(PREFIX, "held", id);
      assert.equal(
        await redis.type(key),
        "hash",
        broken(
          `a job is a hash at <prefix>:<queue>:<id> (${key})`,
          "jobKey: supervisor give-back, cli/info.ts",
        ),
      );
      assert.equal(
        await redis.hget(key, JOB_FIELDS.processedBy),
        "worker-contract-1",
        broken(
          `the job hash's field '${JOB_FIELDS.processedBy}' is the name of the Worker that took it`,
          "supervisor give-back (which jobs a dead worker held), cli/info.ts (who runs what)",
        ),
      );
      assert.equal(
        await redis.hget(key, JOB_FIELDS.attemptsStarted),
        "1",
        broken(
          `the job hash's field '${JOB_FIELDS.attemptsStarted}' counts the times it was taken`,
          "tests",
        ),
      );
      assert.equal(
        await redis.hget(key, JOB_FIELDS.timestamp),
        String(held.job.timestamp),
        broken(
          `the job hash's field '${JOB_FIELDS.timestamp}' is its creation time`,
          "cli/info.ts",
        ),
      );
      const active = stateKey(PREFIX, "held", "active");
      assert.equal(
        await redis.type(active),
        "list",
        broken(`${active} is a list`, "give-back, health"),
      );
      assert.deepEqual(
        await redis.lrange(active, 0, -1),
        [id],
        broken(`a job being processed is in the list ${active}`, "supervisor give-back"),
      );
      assert.match(
        held.token,
        new RegExp(`^${held.worker.id}:\\d+$`),
        broken(
          `a Worker's lock tokens are '<Worker id>:<n>' (got '${held.token}', Worker id '${held.worker.id}')`,
          "supervisor give-back (a replacement's jobs are not the dead process's)",
        ),
      );
      assert.ok(
        isTokenOf(held.token, [held.worker.id]),
        broken("isTokenOf knows the token", "give-back"),
      );
      assert.ok(
        !isTokenOf(held.token, ["another-worker"]),
        broken("isTokenOf refuses others'", "give-back"),
      );
      assert.equal(
        await redis.get(jobLockKey(PREFIX, "held", id)),
        held.token,
        broken(
          "the lock of a job in active is the string key <job key>:lock holding its token",
          "supervisor give-back (the token to give the job back with)",
        ),
      );
    } finally {
      await held.close();
      await queue.close();
    }
  },
);

Deno.test(
  "job.log appends to the list <prefix>:<queue>:<id>:logs, oldest first",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    const queue = openQueue(redis, "logged");
    try {
      const job = await queue.add("contract", {});
      await job.log("try 1: first");
      await job.log("try 2: second");
      assert.deepEqual(
        await redis.lrange(jobLogsKey(PREFIX, "logged", job.id!), 0, -1),
        ["try 1: first", "try 2: second"],
        broken(
          "job.log writes the list <job key>:logs, oldest first",
          "worker/failure.ts (earlier tries)",
        ),
      );
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "Queue.getWorkers lists a named Worker's connection as <prefix>:<base64 queue>:w:<name>",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    const queue = openQueue(redis, "named");
    const worker = new Worker("named", async () => {}, {
      connection: redis.duplicate(),
      prefix: PREFIX,
      name: "worker-contract-7",
    });
    worker.on("error", () => {});
    try {
      await worker.waitUntilReady();
      const names = await waitUntil(async () => {
        const clients = await queue.getWorkers();
        return clients.length > 0
          ? clients.map((client) => String(client.rawname ?? ""))
          : undefined;
      }, { what: "the Worker in Queue.getWorkers()", timeoutMs: 10_000 });
      assert.deepEqual(
        names.map(workerNameOfClient),
        ["worker-contract-7"],
        broken(
          `the worker name follows ':w:' in the client name (${names.join(", ")})`,
          "cli/info.ts, the dashboard",
        ),
      );
    } finally {
      await worker.close();
      await queue.close();
    }
  },
);

Deno.test(
  "the Worker calls createJob(data, jobId) for each job it takes, and what it returns is the job processed; data that is not JSON throws inside createJob",
  integration,
  async () => {
    assert.equal(
      typeof (Worker.prototype as unknown as Record<string, unknown>).createJob,
      "function",
      broken("Worker.prototype.createJob exists", "worker/safe_worker.ts"),
    );
    await using server = await startRedis();
    const redis = server.client();
    const queue = openQueue(redis, "created");
    const calls: { jobId: string; error?: string }[] = [];
    class Probe extends Worker {
      protected override createJob(data: JobJson, jobId: string): Job {
        try {
          const job = super.createJob(data, jobId);
          calls.push({ jobId });
          return job;
        } catch (error) {
          calls.push({ jobId, error: (error as Error).message });
          return super.createJob({ ...data, data: JSON.stringify({ stand_in: true }) }, jobId);
        }
      }
    }
    const processed: unknown[] = [];
    const worker = new Probe("created", (job: Job) => {
      processed.push(job.data);
      return Promise.resolve();
    }, { connection: redis.duplicate(), prefix: PREFIX, autorun: false });
    worker.on("error", () => {});
    try {
      const good = await queue.add("contract", { n: 1 });
      const bad = await queue.add("contract", { n: 2 });
      await redis.hset(jobKey(PREFIX, "created", bad.id!), "data", "{not json");
      void worker.run();
      await waitUntil(() => processed.length === 2 || undefined, {
        what: "both jobs processed",
        timeoutMs: 10_000,
      });
      assert.deepEqual(
        calls.map((call) => call.jobId),
        [good.id, bad.id],
        broken(
          "the Worker makes each job it takes with createJob(data, jobId)",
          "worker/safe_worker.ts",
        ),
      );
      assert.ok(
        calls[1].error !== undefined,
        broken("a job's data that is not JSON throws inside createJob", "worker/safe_worker.ts"),
      );
      assert.deepEqual(
        processed,
        [{ n: 1 }, { stand_in: true }],
        broken("the job createJob returns is the one the processor gets", "worker/safe_worker.ts"),
      );
    } finally {
      await worker.close();
      await queue.close();
    }
  },
);

Deno.test(
  "job states live in <prefix>:<queue>:wait (list, also while paused), :prioritized, :delayed, :completed, :failed (sorted sets), and a paused queue's :meta hash has the field paused",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    const queue = openQueue(redis, "states");
    try {
      const reliedOn = "state/queues.ts (queue counts for info, the dashboard and /metrics)";
      await queue.pause();
      assert.equal(
        await redis.hget(metaKey(PREFIX, "states"), META_PAUSED_FIELD),
        "1",
        broken(`Queue.pause() sets the field '${META_PAUSED_FIELD}' of <queue>:meta`, reliedOn),
      );
      const waiting = await queue.add("contract", {});
      const prioritized = await queue.add("contract", {}, { priority: 3 });
      const delayed = await queue.add("contract", {}, { delay: 3_600_000 });
      const inState = async (state: keyof typeof STATE_KEYS) => {
        const key = stateKey(PREFIX, "states", state);
        assert.equal(
          await redis.type(key),
          STATE_KEYS[state].type === "list" ? "list" : "zset",
          broken(`${key} is a ${STATE_KEYS[state].type}`, reliedOn),
        );
        return STATE_KEYS[state].type === "list"
          ? await redis.lrange(key, 0, -1)
          : await redis.zrange(key, 0, -1);
      };
      assert.deepEqual(
        await inState("waiting"),
        [waiting.id],
        broken("a waiting job of a paused queue is in the list <queue>:wait", reliedOn),
      );
      assert.deepEqual(
        await inState("prioritized"),
        [prioritized.id],
        broken("a job with a priority waits in <queue>:prioritized", reliedOn),
      );
      assert.deepEqual(
        await inState("delayed"),
        [delayed.id],
        broken("a delayed job is in <queue>:delayed", reliedOn),
      );
      await queue.resume();
      assert.equal(
        await redis.hexists(metaKey(PREFIX, "states"), META_PAUSED_FIELD),
        0,
        broken(`Queue.resume() removes the field '${META_PAUSED_FIELD}' of <queue>:meta`, reliedOn),
      );
      const worker = new Worker("states", () => Promise.reject(new Error("contract failure")), {
        connection: redis.duplicate(),
        prefix: PREFIX,
      });
      worker.on("error", () => {});
      try {
        await waitUntil(async () => (await queue.getFailedCount()) === 2 || undefined, {
          what: "both jobs failed",
          timeoutMs: 10_000,
        });
      } finally {
        await worker.close();
      }
      assert.deepEqual(
        (await inState("failed")).toSorted(),
        [waiting.id, prioritized.id].toSorted(),
        broken("a failed job is in <queue>:failed", reliedOn),
      );
      const failedKey = jobKey(PREFIX, "states", waiting.id!);
      assert.equal(
        await redis.hget(failedKey, JOB_FIELDS.failedReason),
        "contract failure",
        broken(`the job hash's field '${JOB_FIELDS.failedReason}' is why it failed`, "tests"),
      );
      assert.equal(
        await redis.hget(failedKey, JOB_FIELDS.attemptsMade),
        "1",
        broken(`the job hash's field '${JOB_FIELDS.attemptsMade}' counts the tries spent`, "tests"),
      );
      assert.equal(
        await redis.hget(failedKey, JOB_FIELDS.data),
        "{}",
        broken(`the job hash's field '${JOB_FIELDS.data}' is its data as JSON`, "tests"),
      );
      await queue.remove(delayed.id!);
      const completed = await queue.add("contract", {});
      const finisher = new Worker("states", () => Promise.resolve("done"), {
        connection: redis.duplicate(),
        prefix: PREFIX,
      });
      finisher.on("error", () => {});
      try {
        await waitUntil(async () => (await queue.getCompletedCount()) === 1 || undefined, {
          what: "the job completed",
          timeoutMs: 10_000,
        });
      } finally {
        await finisher.close();
      }
      assert.deepEqual(
        await inState("completed"),
        [completed.id],
        broken("a completed job is in <queue>:completed", reliedOn),
      );
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "give-back's moves check the lock token: with another token each throws and the job stays; moveToWait with the lock's token puts the job first in line with no attempt spent, moveToDelayed spends none either",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    const queue = openQueue(redis, "given");
    const reliedOn = "supervisor give-back, worker/give_back.ts";
    const fetcher = new Worker("given", null, {
      connection: redis.duplicate(),
      prefix: PREFIX,
      autorun: false,
    });
    fetcher.on("error", () => {});
    try {
      const first = await queue.add("contract", {});
      const second = await queue.add("contract", {});
      const job = (await fetcher.getNextJob("mine:1"))!;
      assert.equal(job.id, first.id);
      for (
        const [move, call] of [
          ["moveToWait", () => job.moveToWait("theirs:1")],
          ["moveToDelayed", () => job.moveToDelayed(Date.now() + 60_000, "theirs:1")],
          ["moveToFailed", () => job.moveToFailed(new bullmq.UnrecoverableError("x"), "theirs:1")],
        ] as const
      ) {
        await assert.rejects(
          call(),
          Error,
          broken(`${move} with a token other than the lock's throws`, reliedOn),
        );
        assert.equal(
          await job.getState(),
          "active",
          broken(`${move} with another token leaves the job`, reliedOn),
        );
      }
      await job.moveToWait("mine:1");
      const key = jobKey(PREFIX, "given", first.id!);
      assert.equal(
        await redis.hget(key, JOB_FIELDS.attemptsMade),
        null,
        broken("moveToWait spends no attempt", reliedOn),
      );
      const next = (await fetcher.getNextJob("mine:2"))!;
      assert.equal(
        next.id,
        first.id,
        broken(
          `a job moveToWait gives back is taken before ${second.id}, which waited already`,
          reliedOn,
        ),
      );
      await next.moveToDelayed(Date.now() + 60_000, "mine:2");
      assert.equal(await next.getState(), "delayed");
      assert.equal(
        await redis.hget(key, JOB_FIELDS.attemptsMade),
        null,
        broken("moveToDelayed spends no attempt", reliedOn),
      );
    } finally {
      await fetcher.close();
      await queue.close();
    }
  },
);

Deno.test(
  "a Worker's backend has the fetching methods guardJobFetch wraps (moveToActive, moveToFinished, moveToDelayed), opts.connection is the ioredis connection it was given, and a record whose opts is not JSON throws a SyntaxError from moveToActive",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    const queue = openQueue(redis, "fetching");
    const worker = new Worker("fetching", null, {
      connection: redis,
      prefix: PREFIX,
      autorun: false,
    });
    try {
      const backend = (worker as unknown as { backend: Record<string, unknown> }).backend;
      for (const method of ["moveToActive", "moveToFinished", "moveToDelayed"]) {
        assert.equal(
          typeof backend[method],
          "function",
          broken(`the Worker's backend has ${method}`, "redis/bullmq_internals.ts guardJobFetch"),
        );
      }
      assert.equal(
        workerClient(worker),
        redis,
        broken(
          "a Worker keeps the ioredis connection it was given in opts.connection",
          "worker/safe_worker.ts",
        ),
      );
      const job = await queue.add("a", { n: 1 });
      await redis.hset(jobKey(PREFIX, "fetching", job.id!), JOB_FIELDS.opts, "{not json");
      const error = await (backend.moveToActive as (token: string) => Promise<unknown>).call(
        backend,
        "t:1",
      ).then(() => undefined, (error) => error);
      assert.ok(
        error instanceof SyntaxError,
        broken(
          "moveToActive decodes opts and throws SyntaxError on bad JSON",
          "worker/safe_worker.ts",
        ),
      );
    } finally {
      await worker.close();
    }
  },
);

Deno.test(
  "a delayed job's score in <prefix>:<queue>:delayed is its due time x 0x1000 plus a counter: delayedScoreDueBy counts it due at that time, not 1 ms sooner",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    const queue = openQueue(redis, "later");
    try {
      const job = await queue.add("later", {}, { delay: 60_000 });
      const due = job.timestamp + 60_000;
      const delayed = stateKey(PREFIX, "later", "delayed");
      const count = (at: number) => redis.zcount(delayed, 0, delayedScoreDueBy(at));
      assert.equal(
        await count(due),
        1,
        broken(
          "a delayed job due at T has a score at most (T + 1) x 0x1000 - 1",
          "state/backlog.ts (the autoscaler)",
        ),
      );
      assert.equal(
        await count(due - 1),
        0,
        broken("a delayed job due at T has a score of at least T x 0x1000", "state/backlog.ts"),
      );
    } finally {
      await queue.close();
    }
  },
);
