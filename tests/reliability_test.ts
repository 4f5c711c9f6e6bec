/**
 * Reliability with real processes and a real redis-server: poison pills, paused providers, the
 * window after kill -9, bounded stops, one hostname twice, bad input, secrets, recycling,
 * crash loops, orphans.
 */

import { strict as assert } from "node:assert";
import type { Job } from "bullmq";
import { Worker } from "../redis/bullmq_internals.ts";
import { JOB_FIELDS, jobKey } from "../redis/bullmq_internals.ts";
import { startRedis } from "../testing/redis.ts";
import {
  baseEnv,
  type LogRecord,
  logRecords,
  runPpr,
  startSupervisor,
  waitForRecord,
} from "../testing/ppr.ts";
import { startStubLlm } from "../testing/stub_llm.ts";
import { processExists, waitUntil } from "../testing/wait.ts";
import { finishedJob, producerQueue } from "../testing/jobs.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const FAKE_CLAUDE = new URL("../testing/fake_claude", import.meta.url).pathname;

function echoJob(prompt: string, latencyMs = 0) {
  return { prompt, provider: { name: "echo", latency_ms: latencyMs } };
}

Deno.test(
  "poison pill: a job whose worker dies under it MAX_JOB_CRASHES times fails, naming the crashes, is counted in BullMQ's failed metrics (the dashboard's jobs per minute), and never starts again",
  integration,
  async () => {
    await using redis = await startRedis();
    const queue = producerQueue(redis);
    await using supervisor = startSupervisor(
      ["--count", "2", "--restart-delay", "100ms", "--restart-intensity", "100"],
      { redisUrl: redis.url, env: { MAX_JOB_CRASHES: "3" } },
    );
    try {
      await supervisor.waitForHealth((body) => body.workers_alive === 2, "two workers");
      const job = await queue.add("llm", echoJob("poison", 60_000), { attempts: 5 });
      for (let crash = 1; crash <= 3; crash++) {
        // The holder: the live worker named by the job's processedBy, once it reports the job.
        const pid = await waitUntil(async () => {
          if ((await job.getState()) !== "active") return undefined;
          const name = await redis.client().hget(
            jobKey("bull", "llm", job.id!),
            JOB_FIELDS.processedBy,
          );
          const { body } = await supervisor.health();
          const holder = body.workers.find((worker) =>
            worker.name === name && worker.active_jobs === 1 && processExists(worker.pid ?? 0)
          );
          return holder?.pid ?? undefined;
        }, { what: `the job to be held (crash ${crash})` });
        Deno.kill(pid, "SIGKILL");
        await waitUntil(() => !processExists(pid), { what: "the holder to die" });
      }
      const failed = await finishedJob(queue, job, "the poison pill to fail");
      assert.equal(await failed.getState(), "failed");
      assert.match(
        failed.failedReason,
        /^worker crashed 3 times while running this job: signal SIGKILL, signal SIGKILL, signal SIGKILL/,
      );
      const started = Number(
        await redis.client().hget(jobKey("bull", "llm", job.id!), JOB_FIELDS.attemptsStarted),
      );
      assert.equal(started, 3, "started 3 times, not a 4th");
      const metrics = await queue.getMetrics("failed");
      assert.equal(metrics.meta.count, 1, "the supervisor's failure counted in metrics:failed");
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "a job for a paused provider other than the default waits for the pause without spinning, and the provider is not called",
  integration,
  async () => {
    await using redis = await startRedis();
    await using stub = startStubLlm();
    const queue = producerQueue(redis);
    const client = redis.client();
    const retryAt = Date.now() + 60_000;
    await client.set(
      "ppr:llm:pause:openai",
      JSON.stringify({
        state: "quota_exceeded",
        reason: "test",
        since: Date.now(),
        retry_at: retryAt,
      }),
      "PX",
      60_000,
    );
    await using supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: { OPENAI_API_KEY: "k", OPENAI_BASE_URL: `${stub.url}/v1` },
    });
    try {
      await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
      const paused = await queue.add("llm", { prompt: "for openai", provider: { name: "openai" } });
      const other = await finishedJob(queue, await queue.add("llm", echoJob("echo")), "echo job");
      assert.equal(await other.getState(), "completed");
      await waitUntil(async () => (await paused.getState()) === "delayed", {
        what: "the paused provider's job to wait in delayed",
      });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const starts = Number(
        await client.hget(jobKey("bull", "llm", paused.id!), JOB_FIELDS.attemptsStarted),
      );
      assert.ok(starts <= 1, `started ${starts} times`);
      assert.equal(await paused.getState(), "delayed");
      const job = (await queue.getJob(paused.id!))!;
      const readAt = Date.now();
      assert.equal(job.attemptsMade, 0);
      // Moved to delayed at some moment between its taking (processedOn) and now, for `delay`
      // ms: it runs again at retry_at exactly when retry_at lies within those bounds.
      assert.ok(job.delay > 0, `delay ${job.delay}`);
      assert.ok(
        job.processedOn! + job.delay <= retryAt && retryAt <= readAt + job.delay,
        `taken at ${job.processedOn}, delayed ${job.delay} ms, read at ${readAt}; retry_at ${retryAt}`,
      );
      assert.equal(stub.requests.length, 0, "openai was not called during its pause");
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "a job taken by a worker that dies before it reported the job is given back at once, not after BullMQ's lock expiry",
  integration,
  async () => {
    await using redis = await startRedis();
    const queue = producerQueue(redis);
    await using supervisor = startSupervisor(["--count", "1", "--restart-delay", "100ms"], {
      redisUrl: redis.url,
      env: { LLM_PROVIDER: "echo" },
    });
    try {
      const ready = await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
      const victim = ready.workers[0];
      // Its BullMQ Worker's id, from its ready record: the prefix of the lock tokens it takes.
      const readyRecord = await waitForRecord(
        supervisor,
        (record) => record.worker === victim.name && Array.isArray(record.workers),
        "the worker's ready record with its BullMQ Worker ids",
      );
      const [workerId] = readyRecord.workers as string[];
      // Take a job as worker-test-1 would, with its name and a token of its Worker, and never
      // report it: BullMQ's lock is held (30 s), the job's processedBy names the worker, the
      // supervisor knows nothing of it.
      // Stopped (SIGSTOP), the worker itself takes nothing meanwhile.
      Deno.kill(victim.pid!, "SIGSTOP");
      await queue.pause();
      const job = await queue.add("llm", echoJob("orphan"));
      const taker = new Worker("llm", null, {
        connection: redis.client(),
        name: victim.name,
        autorun: false,
      });
      await queue.resume();
      const taken = await taker.getNextJob(`${workerId}:orphan`);
      assert.equal(taken?.id, job.id);
      assert.equal(await job.getState(), "active");
      Deno.kill(victim.pid!, "SIGKILL");
      const done = await finishedJob(queue, job, "the orphaned job", 15_000);
      assert.equal(await done.getState(), "completed");
      await taker.close(true);
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "SIGTERM while Redis does not answer: the supervisor exits within DRAIN_TIMEOUT and the documented margin",
  integration,
  async () => {
    await using redis = await startRedis();
    const queue = producerQueue(redis);
    await using supervisor = startSupervisor(["--count", "2", "--drain-timeout", "2s"], {
      redisUrl: redis.url,
    });
    try {
      await supervisor.waitForHealth((body) => body.workers_alive === 2, "two workers");
      await queue.add("llm", echoJob("long", 60_000));
      await supervisor.waitForHealth(
        (body) => body.workers.some((worker) => worker.active_jobs === 1),
        "a job in flight",
      );
      redis.freeze();
      supervisor.signal("SIGTERM");
      // DRAIN_TIMEOUT (2 s) + the stop margin (5 s), and 3 s of slack for a loaded machine.
      const code = await supervisor.waitForExit(10_000);
      assert.equal(code, 0);
    } finally {
      redis.thaw();
      await queue.close();
    }
  },
);

Deno.test(
  "a second supervisor with the same hostname refuses to start (exit 2, an error naming the live worker and --hostname) and leaves the first one's registrations alone",
  integration,
  async () => {
    await using redis = await startRedis();
    await using first = startSupervisor(["--count", "1", "--hostname", "twin"], {
      redisUrl: redis.url,
    });
    await first.waitForHealth((body) => body.workers_alive === 1, "the first supervisor");
    await waitUntil(async () => (await redis.client().exists("ppr:worker:worker-twin-1")) === 1, {
      what: "the first worker's registration",
    });
    await using second = startSupervisor(["--count", "1", "--hostname", "twin"], {
      redisUrl: redis.url,
    });
    const code = await second.waitForExit(30_000);
    assert.equal(code, 2);
    const refusal = logRecords(second.logs).find((record) =>
      record.level === "ERROR" && typeof record.reason === "string"
    );
    assert.ok(refusal, second.logs.join("\n"));
    for (const named of [/worker-twin-1/, /live worker/, /--hostname/]) {
      assert.match(String(refusal.reason), named);
    }
    assert.equal(await redis.client().exists("ppr:worker:worker-twin-1"), 1);
    const health = await first.health();
    assert.equal(health.body.workers[0].restarts, 0);
  },
);

Deno.test(
  "bad input fails at once: an unusable schema (bad pattern, unresolved $ref, unknown type) and job data that is not JSON, whose failure is logged with the job's id",
  integration,
  async () => {
    await using redis = await startRedis();
    const queue = producerQueue(redis);
    await using supervisor = startSupervisor(["--count", "1"], { redisUrl: redis.url });
    try {
      await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
      const schemas = [
        { type: "object", properties: { a: { type: "string", pattern: "([" } } },
        { type: "object", properties: { a: { $ref: "#/$defs/missing" } } },
        { type: "object", properties: { a: { type: "strng" } } },
      ];
      for (const format of schemas) {
        const job = await finishedJob(
          queue,
          await queue.add("llm", { prompt: '{"a": "x"}', format, provider: { name: "echo" } }, {
            attempts: 3,
          }),
          `the job with schema ${JSON.stringify(format)}`,
        );
        assert.equal(await job.getState(), "failed");
        assert.equal(job.attemptsMade, 1, job.failedReason);
        assert.match(job.failedReason, /^invalid job data: format/);
      }
      await queue.pause();
      const broken = await queue.add("llm", echoJob("soon broken"));
      await redis.client().hset(jobKey("bull", "llm", broken.id!), "data", "{not json");
      await queue.resume();
      await waitUntil(async () => (await broken.getState()) === "failed", {
        what: "the job with data that is not JSON to fail",
        timeoutMs: 15_000,
      });
      // BullMQ itself cannot load such a job: its record is read as it is.
      const reason = await redis.client().hget(
        jobKey("bull", "llm", broken.id!),
        JOB_FIELDS.failedReason,
      );
      assert.match(reason!, /job data is not valid JSON/);
      const logged = logRecords(supervisor.logs).find((record) =>
        record.id === broken.id && record.queue === "llm" && "error" in record
      );
      assert.ok(logged, `no log record of job ${broken.id}'s failure`);
      assert.match(String(logged.error), /job data is not valid JSON/);
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "secrets: a Redis password with a slash never shows in the configuration error; a key in a provider's error text never reaches logs or the pause record",
  integration,
  async () => {
    const refused = await runPpr(
      ["--count", "0"],
      baseEnv({ REDIS_URL: "redis://:pa/ss@redis:6379/0" }),
    );
    assert.equal(refused.code, 2);
    assert.ok(!refused.stderr.includes("pa/ss"), refused.stderr);
    await using redis = await startRedis();
    await using stub = startStubLlm();
    const queue = producerQueue(redis);
    const key = "sk-test-secret-key-0123456789";
    await using supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: {
        LLM_PROVIDER: "openai",
        OPENAI_API_KEY: key,
        OPENAI_BASE_URL: `${stub.url}/v1`,
        LLM_PROBE_INTERVAL: "10m",
      },
    });
    try {
      await supervisor.waitForHealth((body) => body.workers_alive === 1, "a worker");
      // The stub's 401 repeats the key it was given, as some providers do.
      await queue.add("llm", { prompt: "AUTH_ECHO_KEY" }, { attempts: 1 });
      await supervisor.waitForHealth((body) => body.llm.state === "auth_failed", "the pause");
      const record = (await redis.client().get("ppr:llm:pause:openai"))!;
      assert.ok(!record.includes(key) && !record.includes(key.slice(-12)), record);
      assert.match(record, /\*\*\*/);
      const leaked = supervisor.logs.filter((line) => line.includes(key.slice(-12)));
      assert.deepEqual(leaked, []);
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "MAX_JOBS_PER_WORKER: a worker is replaced after that many jobs, the new one ready before the old one stops, each replacement logged naming the limit; every job completes once",
  integration,
  async () => {
    await using redis = await startRedis();
    const queue = producerQueue(redis);
    await using supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: { MAX_JOBS_PER_WORKER: "3" },
    });
    try {
      const ready = await supervisor.waitForHealth((body) => body.workers_alive === 1, "worker");
      const firstPid = ready.workers[0].pid;
      // Jobs keep coming, 5 at a time, until the worker has been replaced twice.
      const jobs: Job[] = [];
      await waitUntil(async () => {
        const batch = await queue.addBulk(
          Array.from({ length: 5 }, () => ({ name: "llm", data: echoJob(`r${jobs.length}`, 50) })),
        );
        jobs.push(...batch);
        for (const job of batch) await finishedJob(queue, job, `job ${job.id}`);
        return (await supervisor.health()).body.workers[0].restarts >= 2;
      }, { what: "two recycles", timeoutMs: 60_000, intervalMs: 0 });
      assert.equal(await queue.getCompletedCount(), jobs.length);
      assert.equal(await queue.getFailedCount(), 0);
      for (const job of jobs) assert.equal((await queue.getJob(job.id!))!.attemptsMade, 1);
      const after = (await supervisor.health()).body;
      assert.notEqual(after.workers[0].pid, firstPid);
      const why = logRecords(supervisor.logs).map((record) => record.why)
        .filter((text) => typeof text === "string" && text.startsWith("recycling"));
      assert.ok(why.length >= 2, `recycles logged: ${why.join("; ")}`);
      for (const text of why) assert.match(String(text), /MAX_JOBS_PER_WORKER \(3\)/);
      // The pool's own records of each process ({worker, pid}), in its order: "<worker> starting
      // (pid)" (not for a replacement), then "<worker> ready (pid)"; and "<worker> stopped"
      // ({worker, givenBack}).
      const records = logRecords(supervisor.logs);
      const pids = [
        ...new Set(records.filter(isPoolPidRecord).map((record) => record.pid)),
      ];
      assert.equal(pids[0], firstPid);
      const readyOfSecond = records.findLastIndex((record) =>
        isPoolPidRecord(record) && record.pid === pids[1]
      );
      const firstStopped = records.findIndex((record) =>
        "givenBack" in record && !("cause" in record) && !("processed" in record)
      );
      assert.ok(readyOfSecond >= 0, "the replacement's ready record");
      assert.ok(firstStopped >= 0, "the first process's stopped record");
      assert.ok(
        readyOfSecond < firstStopped,
        "the old process stopped before its replacement was ready",
      );
    } finally {
      await queue.close();
    }
  },
);

/** A record of the pool about one process of a slot: only `worker` and `pid` as properties. */
function isPoolPidRecord(record: LogRecord): boolean {
  const properties = Object.keys(record).filter((key) =>
    !["@timestamp", "level", "message", "logger"].includes(key)
  );
  return properties.length === 2 && "worker" in record && "pid" in record;
}

Deno.test(
  "MAX_WORKER_MEMORY: a worker over the limit is replaced, and the log record says why, naming the limit",
  integration,
  async () => {
    await using redis = await startRedis();
    await using supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: { MAX_WORKER_MEMORY: "20MB" },
    });
    await supervisor.waitForHealth((body) => body.workers[0]?.restarts >= 1, "a recycle");
    const why = logRecords(supervisor.logs).map((record) => record.why)
      .filter((text) => typeof text === "string" && text.startsWith("recycling"));
    assert.ok(why.length >= 1, supervisor.logs.join("\n"));
    assert.match(String(why[0]), /MAX_WORKER_MEMORY \(20 MB\)/);
  },
);

Deno.test(
  "a crash loop before any worker is ready (Redis refuses the password) ends the supervisor with status 1 and an error whose reason names the refused password",
  integration,
  async () => {
    await using redis = await startRedis({ password: "right" });
    await using supervisor = startSupervisor(
      ["--count", "1", "--restart-delay", "100ms", "--restart-intensity", "2"],
      { redisUrl: redis.url.replace(":right@", ":wrong@") },
    );
    const code = await supervisor.waitForExit(60_000);
    assert.equal(code, 1);
    // Its last words: "exiting with status {code}: {reason}".
    const exiting = logRecords(supervisor.logs).find((record) => record.code === 1);
    assert.ok(exiting, supervisor.logs.slice(-10).join("\n"));
    assert.equal(exiting.level, "ERROR");
    assert.match(String(exiting.reason), /RESTART_INTENSITY/);
    assert.match(String(exiting.reason), /password|WRONGPASS|auth/i);
  },
);

Deno.test(
  "no orphans: when a worker is killed, the Claude CLI it ran and that CLI's children are killed too",
  integration,
  async () => {
    await using redis = await startRedis();
    const home = await Deno.makeTempDir({ prefix: "ppr-orphan-" });
    await Deno.writeTextFile(`${home}/fake-claude-auth`, "in");
    const queue = producerQueue(redis);
    await using supervisor = startSupervisor(["--count", "1", "--restart-delay", "100ms"], {
      redisUrl: redis.url,
      env: {
        HOME: home,
        CLAUDE_CLI: FAKE_CLAUDE,
        CLAUDE_CLI_MODE: "cold",
        LLM_PROVIDER: "claude",
        LLM_PROBE_INTERVAL: "10m",
      },
    });
    try {
      const ready = await supervisor.waitForHealth((body) => body.workers_alive === 1, "worker");
      await queue.add("llm", { prompt: "HANG" }, { attempts: 1 });
      const pids = await waitUntil(
        async () =>
          (await Deno.readTextFile(`${home}/fake-claude-hang.pids`).catch(() => "")).trim() ||
          undefined,
        { what: "the fake CLI to hang" },
      );
      const [cliPid, childPid] = pids.split(" ").map(Number);
      // A heartbeat carries the CLI's process group before the kill.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      Deno.kill(ready.workers[0].pid!, "SIGKILL");
      await waitUntil(() => !processExists(cliPid) && !processExists(childPid), {
        what: "the CLI and its child to be killed with the worker",
        timeoutMs: 10_000,
      });
    } finally {
      await queue.close();
      await Deno.remove(home, { recursive: true }).catch(() => {});
    }
  },
);
