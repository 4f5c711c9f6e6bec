/**
 * The supervisor's give-back of a dead worker's jobs against a real redis-server: the jobs are
 * made "held" by a BullMQ Worker that takes them by hand with tokens of the test's choosing, as
 * a worker process that was then killed would have left them.
 */

import { strict as assert } from "node:assert";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { HeldJob } from "../protocol/messages.ts";
import { jobLockKey, Worker } from "../redis/bullmq_internals.ts";
import { jobCrashesKey } from "../redis/keys.ts";
import { startRedis } from "../testing/redis.ts";
import {
  CRASH_SPREAD_MS,
  createDeadWorkerGiveBack,
  type DeadWorkerGiveBackOptions,
  decideGiveBack,
} from "./give_back_dead_worker.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const PREFIX = "bull";
const QUEUE = "llm";
const DEAD = "worker-h-1";

Deno.test("decideGiveBack: a job at maxCrashes fails as a poison pill, alone or not", () => {
  assert.deepEqual(
    decideGiveBack({ crashes: 3, maxCrashes: 3, diedTogether: false, random: 0 }),
    { action: "fail" },
  );
  assert.deepEqual(
    decideGiveBack({ crashes: 4, maxCrashes: 3, diedTogether: true, random: 0.5 }),
    { action: "fail" },
  );
  assert.notDeepEqual(
    decideGiveBack({ crashes: 2, maxCrashes: 3, diedTogether: false, random: 0 }),
    { action: "fail" },
    "not 1 crash sooner",
  );
});

Deno.test("decideGiveBack: a job its worker ran alone goes back to the front of its queue at once, whatever the random draw", () => {
  for (const random of [0, 0.5, 0.999]) {
    assert.deepEqual(
      decideGiveBack({ crashes: 2, maxCrashes: 3, diedTogether: false, random }),
      { action: "wait" },
    );
  }
});

Deno.test("decideGiveBack: jobs that died together wait random × CRASH_SPREAD_MS (2 s) × their crashes, rounded to the ms", () => {
  const delayOf = (crashes: number, random: number) =>
    decideGiveBack({ crashes, maxCrashes: 10, diedTogether: true, random });
  assert.equal(CRASH_SPREAD_MS, 2000);
  assert.deepEqual(delayOf(1, 0), { action: "delay", delayMs: 0 });
  assert.deepEqual(delayOf(1, 0.5), { action: "delay", delayMs: 1000 });
  assert.deepEqual(delayOf(3, 0.5), { action: "delay", delayMs: 3000 });
  assert.deepEqual(delayOf(2, 0.12345), { action: "delay", delayMs: 494 });
  assert.deepEqual(delayOf(1, 0.99999), { action: "delay", delayMs: 2000 });
});

/** A queue, and a Worker named like the dead worker that takes its jobs with chosen tokens. */
function setUp(redis: Redis) {
  const queue = new Queue(QUEUE, { connection: redis, prefix: PREFIX });
  queue.on("error", () => {});
  const takers = new Map<string, Worker>();
  const takerNamed = (name: string) => {
    let taker = takers.get(name);
    if (!taker) {
      taker = new Worker(QUEUE, null, {
        connection: redis.duplicate(),
        prefix: PREFIX,
        name,
        autorun: false,
      });
      taker.on("error", () => {});
      takers.set(name, taker);
    }
    return taker;
  };
  return {
    queue,
    /** Adds `count` jobs and returns their ids, oldest first. */
    async add(count: number): Promise<string[]> {
      const ids: string[] = [];
      for (let n = 0; n < count; n++) ids.push((await queue.add("llm", { n })).id!);
      return ids;
    },
    /** The next waiting job, taken by a Worker named `name` with lock `token`: held. */
    async take(token: string, name = DEAD): Promise<HeldJob> {
      const job = await takerNamed(name).getNextJob(token, { block: false });
      assert.ok(job, "a job to take");
      return { queue: QUEUE, id: job.id!, token };
    },
    async state(id: string): Promise<string> {
      return (await queue.getJob(id))!.getState();
    },
    async [Symbol.asyncDispose]() {
      for (const taker of takers.values()) await taker.close();
      await queue.close();
    },
  };
}

function giveBackOn(redis: Redis, overrides: Partial<DeadWorkerGiveBackOptions> = {}) {
  return createDeadWorkerGiveBack(redis, {
    prefix: PREFIX,
    queues: [QUEUE],
    maxCrashes: 3,
    now: Date.now,
    random: () => 0.5,
    ...overrides,
  });
}

Deno.test(
  "a dead worker's lone job goes back to the front of its queue, no attempt spent, its crash counted",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    await using queue = setUp(redis);
    const [first, second] = await queue.add(2);
    const held = await queue.take("w1:1");
    assert.equal(held.id, first);
    const giveBack = giveBackOn(redis);
    try {
      const outcome = await giveBack.giveBackJobsOf(DEAD, [held], "signal SIGKILL", ["w1"]);
      assert.deepEqual(outcome, { givenBack: [first], failed: [], unreported: [] });
      assert.equal(await queue.state(first), "waiting");
      assert.equal((await queue.queue.getJob(first))!.attemptsMade, 0);
      assert.equal((await queue.take("w9:1", "worker-h-2")).id, first, `taken before ${second}`);
      assert.deepEqual(await redis.lrange(jobCrashesKey(PREFIX, QUEUE, first), 0, -1), [
        "signal SIGKILL",
      ]);
    } finally {
      await giveBack.close();
    }
  },
);

Deno.test(
  "jobs that died together wait in delayed, spread by the injected random draw, no attempt spent",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    await using queue = setUp(redis);
    await queue.add(2);
    const held = [await queue.take("w1:1"), await queue.take("w1:2")];
    const draws: number[] = [];
    const giveBack = giveBackOn(redis, {
      random: () => {
        draws.push(draws.length);
        return 0.5;
      },
    });
    try {
      const outcome = await giveBack.giveBackJobsOf(DEAD, held, "code 1", ["w1"]);
      assert.deepEqual(outcome.givenBack.toSorted(), held.map((job) => job.id).toSorted());
      assert.equal(draws.length, 2, "one draw per job");
      for (const { id } of held) {
        const job = (await queue.queue.getJob(id))!;
        assert.equal(await job.getState(), "delayed", `job ${id}`);
        assert.equal(job.attemptsMade, 0, `job ${id}`);
      }
    } finally {
      await giveBack.close();
    }
  },
);

Deno.test(
  "a job whose worker died under it maxCrashes times fails naming every crash, counted across supervisors, not 1 crash sooner",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    await using queue = setUp(redis);
    const [id] = await queue.add(1);
    const causes = ["signal SIGKILL", "code 1", "hung"];
    for (const [index, cause] of causes.entries()) {
      // Each crash given back by another supervisor (another container): the count is in Redis.
      const giveBack = giveBackOn(redis);
      try {
        const held = await queue.take(`w${index}:1`);
        const outcome = await giveBack.giveBackJobsOf(DEAD, [held], cause, [`w${index}`]);
        if (index < causes.length - 1) {
          assert.deepEqual(outcome.givenBack, [id], `crash ${index + 1}: given back`);
          assert.equal(await queue.state(id), "waiting");
        } else {
          assert.deepEqual(outcome, { givenBack: [], failed: [id], unreported: [] });
        }
      } finally {
        await giveBack.close();
      }
    }
    const failed = (await queue.queue.getJob(id))!;
    assert.equal(await failed.getState(), "failed");
    assert.equal(
      failed.failedReason,
      "worker crashed 3 times while running this job: signal SIGKILL, code 1, hung",
    );
  },
);

Deno.test(
  "only jobs held with a token of the dead process's own BullMQ Workers are given back: its replacement's (same name) stay active",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    await using queue = setUp(redis);
    await queue.add(2);
    const deadOnes = await queue.take("old:1");
    const replacements = await queue.take("new:1");
    const giveBack = giveBackOn(redis);
    try {
      const outcome = await giveBack.giveBackJobsOf(DEAD, [deadOnes], "signal SIGKILL", ["old"]);
      assert.deepEqual(outcome.givenBack, [deadOnes.id]);
      assert.equal(await queue.state(replacements.id), "active");
      assert.equal(await redis.get(jobLockKey(PREFIX, QUEUE, replacements.id)), "new:1");
    } finally {
      await giveBack.close();
    }
  },
);

Deno.test(
  "jobs of another worker name, jobs whose lock is gone, and a process that made no BullMQ Worker are left alone",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    await using queue = setUp(redis);
    await queue.add(3);
    const others = await queue.take("w1:1", "worker-h-2");
    const unlocked = await queue.take("w1:2");
    await redis.del(jobLockKey(PREFIX, QUEUE, unlocked.id));
    const locked = await queue.take("w1:3");
    const giveBack = giveBackOn(redis);
    try {
      assert.deepEqual(
        await giveBack.giveBackJobsOf(DEAD, [locked], "code 1", []),
        { givenBack: [], failed: [], unreported: [] },
        "no Worker ids: it made none, so it held none",
      );
      const outcome = await giveBack.giveBackJobsOf(DEAD, [others, unlocked, locked], "code 1", [
        "w1",
      ]);
      assert.deepEqual(outcome.givenBack, [locked.id]);
      assert.equal(await queue.state(others.id), "active");
      assert.equal(await queue.state(unlocked.id), "active");
      assert.equal(
        await redis.exists(jobCrashesKey(PREFIX, QUEUE, others.id)),
        0,
        "no crash counted",
      );
    } finally {
      await giveBack.close();
    }
  },
);

Deno.test(
  "jobs read from Redis, not from the last heartbeat: one taken after it is given back and listed unreported; one reported but no longer held is not touched",
  integration,
  async () => {
    await using server = await startRedis();
    const redis = server.client();
    await using queue = setUp(redis);
    await queue.add(2);
    const finishedMeanwhile = await queue.take("w1:1");
    await (await queue.queue.getJob(finishedMeanwhile.id))!.moveToCompleted("done", "w1:1", false);
    const takenAfter = await queue.take("w1:2");
    const giveBack = giveBackOn(redis);
    try {
      const outcome = await giveBack.giveBackJobsOf(DEAD, [finishedMeanwhile], "signal SIGKILL", [
        "w1",
      ]);
      assert.deepEqual(outcome, {
        givenBack: [takenAfter.id],
        failed: [],
        unreported: [takenAfter.id],
      });
      assert.equal(await queue.state(finishedMeanwhile.id), "completed");
    } finally {
      await giveBack.close();
    }
  },
);
