/** SIGHUP with --env-file: the file read again, checked, and the workers rolled onto it, against a real Redis. */

import { strict as assert } from "node:assert";
import { type Job, Queue } from "bullmq";
import { delay } from "../async/mod.ts";
import { startRedis } from "../testing/redis.ts";
import { logRecords, startSupervisor, type Supervisor, waitForRecord } from "../testing/ppr.ts";
import { processExists, waitUntil } from "../testing/wait.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

/** A per-job processor that answers with the GREETING its environment holds. */
const GREET_PROCESSOR = `greet=sh -c 'printf "{\\"greeting\\":\\"%s\\"}" "$GREETING"'`;

/** Starts a pool of `count` workers (WORKER_COUNT in the environment) on the `greet` queue, its GREETING from `file`. */
function greetingPool(redisUrl: string, file: string, count: number): Supervisor {
  return startSupervisor(["--queue", "greet", "--env-file", file], {
    redisUrl,
    env: {
      WORKER_COUNT: String(count),
      QUEUE_PROCESSORS: GREET_PROCESSOR,
      PROCESSOR_ENV: "GREETING",
    },
  });
}

/** Adds a job to `queue` and returns the greeting it was answered with. */
async function greetingOf(queue: Queue): Promise<string> {
  const job = await queue.add("greet", {});
  const done = await waitUntil(async () => {
    const state = await queue.getJobState(job.id!);
    return state === "completed" || state === "failed" ? await queue.getJob(job.id!) : undefined;
  }, { what: `job ${job.id} to finish`, timeoutMs: 30_000 });
  assert.equal(await done!.getState(), "completed", (done as Job).failedReason);
  return (done!.returnvalue as { greeting: string }).greeting;
}

/** The pids of the pool's workers, as /health shows them once every one is idle. */
async function idlePids(supervisor: Supervisor, count: number): Promise<number[]> {
  const body = await supervisor.waitForHealth(
    (health) =>
      health.workers.length === count &&
      health.workers.every((worker) => worker.state === "idle"),
    `${count} idle workers`,
    60_000,
  );
  return body.workers.map((worker) => worker.pid!);
}

/** A test's Redis, its env file (not written yet) and a producer's queue; all gone on dispose. */
async function reloadStand(queueName: string, firstContent: string) {
  const redis = await startRedis();
  const dir = await Deno.makeTempDir({ prefix: "ppr-reload-" });
  const file = `${dir}/pool.env`;
  await Deno.writeTextFile(file, firstContent);
  const queue = new Queue(queueName, { connection: redis.client() });
  queue.on("error", () => {});
  return {
    redis,
    file,
    queue,
    async [Symbol.asyncDispose]() {
      await queue.close();
      await Deno.remove(dir, { recursive: true });
      await redis[Symbol.asyncDispose]();
    },
  };
}

/** Waits for a log record whose message holds `text`. */
function waitForMessage(supervisor: Supervisor, text: string, timeoutMs = 30_000) {
  return waitForRecord(supervisor, (record) => record.message.includes(text), text, timeoutMs);
}

/** Counts the records whose message holds `text`. */
function countMessages(supervisor: Supervisor, text: string): number {
  return logRecords(supervisor.logs).filter((record) => record.message.includes(text)).length;
}

Deno.test(
  "SIGHUP with an invalid env file logs every problem and keeps the same workers running jobs; once fixed, SIGHUP rolls them onto the new environment, WORKER_COUNT left for the next start",
  integration,
  async () => {
    await using stand = await reloadStand("greet", "# greetings\nGREETING=hello\n");
    const { file, queue } = stand;
    await using supervisor = greetingPool(stand.redis.url, file, 2);
    const pids = await idlePids(supervisor, 2);
    assert.equal(await greetingOf(queue), "hello");

    await Deno.writeTextFile(file, "GREETING=bonjour\nPROCESSOR_TIMEOUT=soon\nnot a line\n");
    supervisor.signal("SIGHUP");
    const refused = await waitForMessage(supervisor, "not applied");
    assert.equal(refused.level, "ERROR");
    assert.match(refused.message, /invalid configuration \(2 problems\)/);
    assert.match(refused.message, /--env-file = ".*pool.env": line 3: not KEY=VALUE/);
    assert.match(refused.message, /PROCESSOR_TIMEOUT = "soon": must be a duration/);
    assert.equal(await greetingOf(queue), "hello", "the old workers still answer");
    assert.deepEqual(await idlePids(supervisor, 2), pids, "the same worker processes");
    assert.ok(pids.every(processExists));

    await Deno.writeTextFile(file, "GREETING=bonjour\nWORKER_COUNT=3\n");
    supervisor.signal("SIGHUP");
    const applied = await waitForMessage(supervisor, "read; rolling restart");
    assert.deepEqual(applied.otherVariables, ["GREETING"]);
    const postponed = await waitForRecord(
      supervisor,
      (record) => record.level === "WARN" && record.variable === "WORKER_COUNT",
      "the warning that WORKER_COUNT waits for the next start",
    );
    assert.match(postponed.message, /takes effect at the next start/);
    await waitForMessage(supervisor, "rolling restart done", 60_000);
    const rolled = await idlePids(supervisor, 2);
    assert.ok(rolled.every((pid) => !pids.includes(pid)), `new workers: ${pids} -> ${rolled}`);
    for (const pid of pids) {
      await waitUntil(() => !processExists(pid), { what: `old worker ${pid} to exit` });
    }
    assert.equal(await greetingOf(queue), "bonjour");
    assert.equal(await greetingOf(queue), "bonjour");
  },
);

Deno.test(
  "three SIGHUPs during a rolling restart run two restarts, the second with the file as the third SIGHUP found it",
  integration,
  async () => {
    await using stand = await reloadStand("greet", "GREETING=a\n");
    const { file, queue } = stand;
    await using supervisor = greetingPool(stand.redis.url, file, 2);
    await idlePids(supervisor, 2);

    await Deno.writeTextFile(file, "GREETING=b\n");
    supervisor.signal("SIGHUP");
    await waitForMessage(supervisor, "read; rolling restart");
    await Deno.writeTextFile(file, "GREETING=c\n");
    supervisor.signal("SIGHUP");
    await waitForMessage(supervisor, "one more follows it");
    await Deno.writeTextFile(file, "GREETING=d\n");
    supervisor.signal("SIGHUP");
    await waitForMessage(supervisor, "this one joins it");
    await waitUntil(() => countMessages(supervisor, "rolling restart done") === 2, {
      what: "two rolling restarts to end",
      timeoutMs: 90_000,
    });
    assert.equal(await greetingOf(queue), "d");
    supervisor.signal("SIGTERM");
    assert.equal(await supervisor.waitForExit(), 0);
    assert.equal(countMessages(supervisor, "read; rolling restart"), 2);
    for (const slot of [1, 2]) {
      assert.equal(countMessages(supervisor, `worker-test-${slot}: rolling restart`), 2);
    }
  },
);

Deno.test(
  "a rolling restart under a steady stream of jobs keeps at least N BullMQ workers on the queue (sampled every 20 ms, during the roll too) and loses no job",
  integration,
  async () => {
    const count = 3;
    await using stand = await reloadStand("llm", "ECHO_LATENCY=100ms\n");
    const { file, queue } = stand;
    await using supervisor = startSupervisor(
      ["--count", String(count), "--concurrency", "2", "--env-file", file],
      { redisUrl: stand.redis.url },
    );
    await idlePids(supervisor, count);
    const workersOnQueue = async () => (await queue.getWorkers()).length;
    await waitUntil(async () => (await workersOnQueue()) === count, {
      what: `${count} BullMQ workers on the queue`,
    });

    let enqueued = 0;
    let running = true;
    const producer = (async () => {
      while (running) {
        await queue.add("llm", { prompt: `job ${enqueued}` });
        enqueued++;
        await delay(20);
      }
    })();
    const samples: number[] = [];
    /** How many samples were taken while the roll was under way (from SIGHUP to "done"). */
    let rolling = false;
    let samplesDuringRoll = 0;
    const sampler = (async () => {
      while (running) {
        const during = rolling;
        samples.push(await workersOnQueue());
        if (during && rolling) samplesDuringRoll++;
        await delay(20);
      }
    })();
    try {
      await Deno.writeTextFile(file, "ECHO_LATENCY=50ms\n");
      rolling = true;
      supervisor.signal("SIGHUP");
      const applied = await waitForMessage(supervisor, "read; rolling restart");
      assert.deepEqual(applied.applied, ["ECHO_LATENCY"]);
      await waitForMessage(supervisor, "rolling restart done", 90_000);
      rolling = false;
    } finally {
      running = false;
      await Promise.all([producer, sampler]);
    }
    // The check below means something only if the sampler looked while workers were replaced.
    assert.ok(
      samplesDuringRoll > 0,
      `no sample was taken during the roll (${samples.length} in all)`,
    );
    const least = Math.min(...samples);
    assert.ok(least >= count, `fewest BullMQ workers on the queue: ${least} (${samples})`);
    await waitUntil(async () => (await queue.getCompletedCount()) === enqueued, {
      what: `all ${enqueued} jobs completed`,
      timeoutMs: 60_000,
    });
    assert.equal(await queue.getFailedCount(), 0);
    console.error(
      `rolling restart of ${count} workers under load: ${enqueued} jobs, ${samples.length} samples (${samplesDuringRoll} during the roll), fewest workers on the queue ${least}, most ${
        Math.max(...samples)
      }`,
    );
  },
);
