/**
 * The batch lane through crashes, with real supervisors, a real Redis and the Message Batches
 * stub: kill -9 at each step of a batch (collected, being submitted, open, its results half read),
 * of the workers, of a supervisor with its workers, of Redis, and of the desk holder of two
 * supervisors, then a fresh supervisor; a desk slow to hear its create's answer, frozen while it
 * waits for it, or timed out. Every job completes once, in one batch at the provider, and its
 * result is routed once.
 */

import { strict as assert } from "node:assert";
import type { Job, Queue } from "bullmq";
import {
  type BatchRecord,
  collectionSize,
  DESK_LEASE_KEY,
  listBatches,
} from "../jobs/batch/store.ts";
import { DESK_LEASE_MS } from "../supervisor/batch_desk.ts";
import { allFinished, batchesPerPrompt, FAST_LANE } from "../testing/batch_lane.ts";
import { eventCounts, producerQueue } from "../testing/jobs.ts";
import {
  killWithWorkers,
  logRecords,
  startSupervisor,
  type Supervisor,
  waitForRecord,
} from "../testing/ppr.ts";
import { startRedis } from "../testing/redis.ts";
import {
  claudeApiEnv,
  startStubMessageBatches,
  type StubMessageBatchesOptions,
} from "../testing/stub_message_batches.ts";
import { processExists, waitUntil } from "../testing/wait.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

/**
 * Redis, a Message Batches stub, the producer's queue and the result queue, and the supervisors
 * a test starts (`start`), each with one worker and the lane's quick settings; every process is
 * killed at the end, whatever the test did.
 */
async function crashFleet(
  stubOptions: StubMessageBatchesOptions = {},
  redisOptions: { persist?: boolean } = {},
) {
  const redis = await startRedis(redisOptions);
  const stub = startStubMessageBatches(stubOptions);
  const queue = producerQueue(redis);
  const results = producerQueue(redis, "results");
  const supervisors: Supervisor[] = [];
  /** Starts a supervisor as `hostname` and waits for its workers. */
  const start = async (hostname: string, env: Record<string, string> = {}, count = 1) => {
    // Killed workers come back at once: what they held is what the test looks at, not backoff.
    const args = ["--count", String(count), "--restart-delay", "200ms", "--hostname", hostname];
    const supervisor = startSupervisor(args, {
      redisUrl: redis.url,
      env: {
        ...claudeApiEnv(stub.url),
        ...FAST_LANE,
        // Only full batches (5 jobs) go out unless a test says otherwise: however slowly a loaded
        // machine collects, a test's jobs go in the batches it counts on.
        BATCH_MAX_WAIT: "1h",
        LLM_BATCH_QUEUES: "llm",
        LLM_RESULT_QUEUES: "results",
        ...env,
      },
    });
    supervisors.push(supervisor);
    await supervisor.waitForHealth((body) => body.workers_alive === count, `${hostname}'s pool`);
    return supervisor;
  };
  return {
    redis,
    client: redis.client(),
    stub,
    queue,
    results,
    start,
    async [Symbol.asyncDispose]() {
      await Promise.allSettled([queue.close(), results.close()]);
      await Promise.allSettled(supervisors.map((supervisor) => supervisor[Symbol.asyncDispose]()));
      await stub[Symbol.asyncDispose]();
      await redis[Symbol.asyncDispose]();
    },
  };
}

/** Adds `count` LLM jobs, each with a prompt of its own (`<tag> <index>`). */
async function addJobs(queue: Queue, tag: string, count: number): Promise<Job[]> {
  return await queue.addBulk(
    Array.from({ length: count }, (_, index) => ({
      name: "llm",
      data: { prompt: `${tag} ${index}` },
    })),
  );
}

/** Waits until `count` jobs are collected for a batch and parked in `delayed`. */
async function parked(fleet: Awaited<ReturnType<typeof crashFleet>>, count: number) {
  await waitUntil(async () => {
    const { count: collected } = await collectionSize(fleet.client);
    return collected === count && (await fleet.queue.getDelayedCount()) === count;
  }, { what: `${count} job(s) collected and parked in delayed` });
}

/** Waits until the fleet's one open batch is in `phase` (and `check` holds of it); returns it. */
async function openBatch(
  fleet: Awaited<ReturnType<typeof crashFleet>>,
  phase: BatchRecord["phase"],
  check: (record: BatchRecord) => boolean = () => true,
): Promise<BatchRecord> {
  return await waitUntil(async () => {
    const { open } = await listBatches(fleet.client);
    return open.length === 1 && open[0].phase === phase && check(open[0]) ? open[0] : undefined;
  }, { what: `a batch ${phase} in Redis` });
}

/**
 * Waits for `jobs` to finish, then checks that each completed once (one `completed` event), was
 * sent in exactly one batch at the provider, and had its result routed once: one job
 * `llm-<id>` in the result queue, added once, never added again (`duplicated`).
 */
async function assertEachCompletedOnce(
  fleet: Awaited<ReturnType<typeof crashFleet>>,
  jobs: Job[],
): Promise<void> {
  const done = await allFinished(fleet.queue, jobs, 90_000);
  for (const job of done) {
    assert.equal(await job.getState(), "completed", `job ${job.id}: ${job.failedReason}`);
    assert.equal(job.returnvalue.lane, "batch");
  }
  const completions = await eventCounts(fleet.client, fleet.queue, "completed");
  for (const job of done) assert.equal(completions.get(job.id!), 1, `job ${job.id} completed once`);

  const sent = batchesPerPrompt(fleet.stub);
  for (const job of done) {
    assert.equal(sent.get(job.data.prompt), 1, `${job.data.prompt} was sent in exactly one batch`);
  }

  const expected = done.map((job) => `llm-${job.id}`).sort();
  const routed = await fleet.results.getRanges(
    ["waiting", "active", "delayed", "prioritized", "completed", "failed"],
    0,
    -1,
  );
  assert.equal(routed.length, jobs.length, "one routed result a job");
  assert.deepEqual([...new Set(routed)].sort(), expected);
  const added = await eventCounts(fleet.client, fleet.results, "added");
  assert.deepEqual([...added.keys()].sort(), expected);
  for (const [id, times] of added) assert.equal(times, 1, `${id} added once`);
  assert.deepEqual([...(await eventCounts(fleet.client, fleet.results, "duplicated")).keys()], []);
}

Deno.test(
  "kill -9 of the workers after their jobs are collected and parked, before the batch is submitted: the desk still submits them, and each job completes once with its result routed once",
  integration,
  async () => {
    await using fleet = await crashFleet();
    // Due only when full (5 jobs): 4 wait for the fifth, whatever the machine's speed.
    const supervisor = await fleet.start("crash", {}, 2);
    const jobs = await addJobs(fleet.queue, "workers killed", 4);
    await parked(fleet, 4);
    const { body } = await supervisor.health();
    const workerPids = body.workers.map((worker) => worker.pid!);
    for (const pid of workerPids) Deno.kill(pid, "SIGKILL");
    await waitUntil(() => workerPids.every((pid) => !processExists(pid)), {
      what: "the workers gone",
    });
    assert.equal(fleet.stub.batches().length, 0, "nothing submitted before the kill");

    jobs.push(...await addJobs(fleet.queue, "after the kill", 1));
    await assertEachCompletedOnce(fleet, jobs);
    assert.equal(fleet.stub.batches().length, 1);
    const after = await supervisor.health();
    assert.ok(after.body.workers.every((worker) => worker.restarts >= 1), "both workers replaced");
  },
);

Deno.test(
  "kill -9 of the supervisor and its workers after the jobs are collected, before the batch is submitted: a fresh supervisor submits them, and each job completes once with its result routed once",
  integration,
  async () => {
    await using fleet = await crashFleet();
    const first = await fleet.start("first");
    const jobs = await addJobs(fleet.queue, "collected", 3);
    await parked(fleet, 3);
    await killWithWorkers(first);
    assert.equal(fleet.stub.batches().length, 0, "nothing submitted before the kill");

    // The fresh supervisor's BATCH_MAX_WAIT has passed for the 3 jobs: they are due at once.
    await fleet.start("fresh", { BATCH_MAX_WAIT: "1s" });
    await assertEachCompletedOnce(fleet, jobs);
    assert.equal(fleet.stub.batches().length, 1);
  },
);

Deno.test(
  "kill -9 of the supervisor and its workers while the provider holds the answer to its create: a fresh supervisor adopts the provider's batch, which stays the only one, and each job completes once with its result routed once",
  integration,
  async () => {
    const neverAnswered = Promise.withResolvers<void>();
    let creates = 0;
    await using fleet = await crashFleet({
      // The first create's answer never comes; any later one would be answered at once.
      holdCreated: () => creates++ === 0 ? neverAnswered.promise : Promise.resolve(),
    });
    const first = await fleet.start("first");
    const jobs = await addJobs(fleet.queue, "held create", 5);
    await waitUntil(() => fleet.stub.batches().length === 1, { what: "the batch at the stub" });
    const submitting = await openBatch(fleet, "submitting");
    await killWithWorkers(first);

    const fresh = await fleet.start("fresh");
    const providerId = fleet.stub.batches()[0].batch.id;
    await waitForRecord(
      fresh,
      (record) =>
        record.level === "WARN" && record.batch === submitting.id &&
        record.providerId === providerId,
      "the fresh desk adopting the provider's batch",
      60_000,
    );
    await assertEachCompletedOnce(fleet, jobs);
    assert.equal(fleet.stub.batches().length, 1, "no second batch at the provider");
    assert.equal(
      fleet.stub.requests.filter((request) =>
        request.method === "POST" && request.path === "/v1/messages/batches"
      ).length,
      1,
      "one create",
    );
    const { open, recent } = await listBatches(fleet.client);
    assert.equal(open.length, 0);
    assert.equal(recent.length, 1);
    assert.equal(recent[0].id, submitting.id);
    assert.equal(recent[0].providerId, providerId);
    assert.equal(recent[0].adopted, true);
    assert.equal(recent[0].succeeded, 5);
    neverAnswered.resolve();
  },
);

Deno.test(
  "kill -9 of the supervisor and its workers while it reads a batch's results (2 of 5 lines read): a fresh supervisor reads them again, stores none twice, and each of the 5 jobs completes once with its result routed once",
  integration,
  async () => {
    const firstDownloadHeld = Promise.withResolvers<void>();
    let downloads = 0;
    await using fleet = await crashFleet({
      holdResults: {
        afterLines: 2,
        // The first download stops after 2 lines for good; a later one is sent whole.
        until: () => downloads++ === 0 ? firstDownloadHeld.promise : Promise.resolve(),
      },
    });
    const first = await fleet.start("first");
    const jobs = await addJobs(fleet.queue, "half read", 5);
    const halfRead = await openBatch(fleet, "open", (record) => record.stored === 2);
    await killWithWorkers(first);
    assert.equal(downloads, 1);

    await fleet.start("fresh");
    await assertEachCompletedOnce(fleet, jobs);
    assert.equal(downloads, 2, "the results read again, once");
    const { recent } = await listBatches(fleet.client);
    assert.equal(recent.length, 1);
    assert.equal(recent[0].id, halfRead.id);
    assert.equal(recent[0].stored, 5, "each outcome stored once");
    assert.equal(recent[0].succeeded, 5);
    firstDownloadHeld.resolve();
  },
);

Deno.test(
  "kill -9 of every process at once while a batch is open at the provider: a fresh supervisor polls it to its end, and each job completes once with its result routed once",
  integration,
  async () => {
    await using fleet = await crashFleet({ processingMs: 4000 });
    const first = await fleet.start("first");
    const jobs = await addJobs(fleet.queue, "open batch", 5);
    await openBatch(fleet, "open");
    await killWithWorkers(first);
    assert.equal(fleet.stub.batches()[0].batch.processing_status, "in_progress");

    await fleet.start("fresh");
    await assertEachCompletedOnce(fleet, jobs);
    assert.equal(fleet.stub.batches().length, 1);
  },
);

Deno.test(
  "Redis killed with kill -9 while a batch is open and restarted (append-only file, same port and dir) once the batch has ended: the pool reconnects without a restart, and each job completes once with its result routed once",
  integration,
  async () => {
    await using fleet = await crashFleet({ processingMs: 3000 }, { persist: true });
    const supervisor = await fleet.start("crash");
    const before = await supervisor.health();
    const jobs = await addJobs(fleet.queue, "redis restart", 5);
    await openBatch(fleet, "open");
    await fleet.redis.stop("SIGKILL");
    // Down until the batch has ended at the provider: the desk's looks fail meanwhile.
    await waitUntil(() => fleet.stub.batches()[0].batch.processing_status === "ended", {
      what: "the batch to end at the stub while Redis is down",
    });
    await fleet.redis.start();

    await assertEachCompletedOnce(fleet, jobs);
    assert.equal(fleet.stub.batches().length, 1);
    const after = await supervisor.health();
    assert.deepEqual(
      after.body.workers.map((worker) => worker.pid),
      before.body.workers.map((worker) => worker.pid),
      "the same worker reconnected, none restarted",
    );
  },
);

/** The hostname of the supervisor whose desk holds the lease, if one does. */
async function deskHolder(fleet: Awaited<ReturnType<typeof crashFleet>>) {
  const owner = await fleet.client.get(DESK_LEASE_KEY);
  return owner?.split(" ")[0];
}

/** The records of the batches a supervisor's desk submitted. */
const submittedBy = (supervisor: Supervisor) =>
  logRecords(supervisor.logs).filter((record) =>
    typeof record.providerId === "string" && typeof record.count === "number" &&
    record.queue === "llm"
  );

Deno.test(
  "two supervisors on one Redis: only the desk holder submits, each job in exactly one batch; after kill -9 of the holder the other takes the desk within the lease time, and each job completes once with its result routed once",
  integration,
  async () => {
    await using fleet = await crashFleet({ processingMs: 3000 });
    const supervisors = {
      a: await fleet.start("a"),
      b: await fleet.start("b"),
    };
    const jobs = await addJobs(fleet.queue, "two desks", 10);
    await waitUntil(async () => {
      const { open } = await listBatches(fleet.client);
      return open.length === 2 && open.every((record) => record.phase === "open");
    }, { what: "the 10 jobs in 2 open batches" });
    const holderName = await deskHolder(fleet);
    assert.ok(holderName === "a" || holderName === "b", `the desk is held by ${holderName}`);
    const otherName = holderName === "a" ? "b" : "a";
    const holder = supervisors[holderName];
    const other = supervisors[otherName];
    // Its log lines reach the test through a pipe, maybe after the records: waited for.
    await waitUntil(() => submittedBy(holder).length === 2, {
      what: "the holder's log of both submissions",
    });
    assert.equal(submittedBy(other).length, 0, "the other submitted none");

    await killWithWorkers(holder);
    // The lease outlives its dead holder by DESK_LEASE_MS; the bound allows a loaded machine.
    await waitUntil(async () => await deskHolder(fleet) === otherName, {
      what: `${otherName} to take the desk`,
      timeoutMs: DESK_LEASE_MS + 10_000,
    });
    await assertEachCompletedOnce(fleet, jobs);
    assert.equal(fleet.stub.batches().length, 2);
    assert.equal(submittedBy(other).length, 0, "the other submitted nothing again");
  },
);

/**
 * Two supervisors, `a` holding the desk, then 5 jobs (prompts `<tag> <index>`) in a batch whose
 * create the fleet's stub holds: made at the stub, `submitting` in Redis.
 */
async function twoDesksMidCreate(fleet: Awaited<ReturnType<typeof crashFleet>>, tag: string) {
  const a = await fleet.start("a");
  await waitUntil(async () => await deskHolder(fleet) === "a", { what: "a to hold the desk" });
  const b = await fleet.start("b");
  const jobs = await addJobs(fleet.queue, tag, 5);
  await waitUntil(() => fleet.stub.batches().length === 1, { what: "the batch at the stub" });
  return { a, b, jobs, submitting: await openBatch(fleet, "submitting") };
}

Deno.test(
  "two supervisors, and a create whose answer takes longer than the desk's lease: the holder keeps the desk while it waits, the other takes nothing over, and each job completes once in the one batch",
  integration,
  async () => {
    const createAnswered = Promise.withResolvers<void>();
    await using fleet = await crashFleet({ holdCreated: () => createAnswered.promise });
    const { a: holder, b: other, jobs, submitting } = await twoDesksMidCreate(fleet, "slow create");
    // Long enough for the lease to have run out, had it not been renewed meanwhile.
    await waitUntil(() => Date.now() - submitting.createdMs > DESK_LEASE_MS + 2000, {
      what: "the create held longer than the desk's lease",
      timeoutMs: DESK_LEASE_MS + 10_000,
    });
    assert.equal(await deskHolder(fleet), "a", "the holder kept the desk while it waited");
    createAnswered.resolve();

    await assertEachCompletedOnce(fleet, jobs);
    assert.equal(fleet.stub.batches().length, 1);
    assert.equal(submittedBy(holder).length, 1);
    assert.equal(submittedBy(other).length, 0);
    const { recent } = await listBatches(fleet.client);
    assert.equal(recent.length, 1);
    assert.equal(recent[0].adopted, undefined, "not taken over");
  },
);

Deno.test(
  "a create that times out although the provider made the batch (LLM_TIMEOUT 2s, the answer never comes): the desk finds the batch at the provider and adopts it, submits none of its jobs again, and each job completes once",
  integration,
  async () => {
    const neverAnswered = Promise.withResolvers<void>();
    let creates = 0;
    await using fleet = await crashFleet({
      holdCreated: () => creates++ === 0 ? neverAnswered.promise : Promise.resolve(),
    });
    const supervisor = await fleet.start("crash", { LLM_TIMEOUT: "2s" });
    const jobs = await addJobs(fleet.queue, "timed out", 5);
    const submitting = await openBatch(fleet, "submitting");

    await assertEachCompletedOnce(fleet, jobs);
    assert.equal(fleet.stub.batches().length, 1, "no second batch at the provider");
    const { recent } = await listBatches(fleet.client);
    assert.equal(recent.length, 1);
    assert.equal(recent[0].id, submitting.id);
    assert.equal(recent[0].providerId, fleet.stub.batches()[0].batch.id);
    assert.equal(recent[0].adopted, true);
    assert.ok(
      logRecords(supervisor.logs).some((record) =>
        record.level === "WARN" && record.batch === submitting.id &&
        record.providerId === recent[0].providerId
      ),
      "the adoption logged",
    );
    neverAnswered.resolve();
  },
);

Deno.test(
  "two supervisors, the desk holder frozen (SIGSTOP) while its create is held: the other takes the desk and adopts the batch; woken to the create's answer, the frozen one leaves the batch to it, and the batch stays done, read once",
  integration,
  async () => {
    const createAnswered = Promise.withResolvers<void>();
    await using fleet = await crashFleet({ holdCreated: () => createAnswered.promise });
    const { a: frozen, b: other, jobs, submitting } = await twoDesksMidCreate(fleet, "frozen desk");
    frozen.signal("SIGSTOP");
    try {
      await waitUntil(async () => await deskHolder(fleet) === "b", {
        what: "b to take the desk",
        timeoutMs: DESK_LEASE_MS + 10_000,
      });
      await assertEachCompletedOnce(fleet, jobs);
      await waitUntil(
        async () => (await listBatches(fleet.client)).recent[0]?.phase === "done",
        { what: "the adopted batch done" },
      );
      createAnswered.resolve();
    } finally {
      frozen.signal("SIGCONT");
    }
    await waitForRecord(
      frozen,
      (record) => record.batch === submitting.id,
      "the woken desk's word on its batch",
    );
    const { open, recent } = await listBatches(fleet.client);
    assert.deepEqual(open, [], "no batch open again");
    assert.equal(recent.length, 1);
    assert.equal(recent[0].phase, "done");
    assert.equal(recent[0].adopted, true);
    assert.equal(recent[0].stored, 5);
    assert.equal(fleet.stub.batches().length, 1);
    assert.equal(submittedBy(other).length, 0);
  },
);
