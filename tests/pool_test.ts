/** The pool against a real Redis: processing, crashes, hangs, drains and outages. */

import { strict as assert } from "node:assert";
import { Queue } from "bullmq";
import { startRedis } from "../testing/redis.ts";
import { logRecords, startSupervisor, waitForRecord } from "../testing/ppr.ts";
import { startStubLlm } from "../testing/stub_llm.ts";
import { processExists, waitUntil } from "../testing/wait.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

/** A producer's queue; its connection errors during an outage are expected. */
function producer(connection: ReturnType<Awaited<ReturnType<typeof startRedis>>["client"]>) {
  const queue = new Queue("llm", { connection });
  queue.on("error", () => {});
  return queue;
}

function echoJob(text: string, latencyMs = 0) {
  return { prompt: text, provider: { name: "echo", latency_ms: latencyMs } };
}

Deno.test("N workers process jobs from a plain BullMQ producer", integration, async () => {
  await using redis = await startRedis();
  const queue = producer(redis.client());
  await using supervisor = startSupervisor(["--count", "3", "--concurrency", "2"], {
    redisUrl: redis.url,
  });
  try {
    const body = await supervisor.waitForHealth(
      (health) => health.workers.every((worker) => worker.state === "idle"),
      "3 idle workers",
    );
    assert.deepEqual(body.workers.map((worker) => worker.name), [
      "worker-test-1",
      "worker-test-2",
      "worker-test-3",
    ]);
    await queue.addBulk(
      Array.from(
        { length: 30 },
        (_, index) => ({ name: "llm", data: echoJob(`page ${index}`, 100) }),
      ),
    );
    await waitUntil(async () => (await queue.getCompletedCount()) === 30, {
      what: "30 completed jobs",
      timeoutMs: 60_000,
    });
    const completed = await queue.getCompleted(0, 29);
    assert.equal(completed.length, 30);
    for (const job of completed) {
      assert.equal(job.returnvalue.text, job.data.prompt);
      assert.equal(job.returnvalue.provider, "echo");
      assert.match(job.processedBy ?? "", /^worker-test-[123]$/);
    }
    assert.ok(
      new Set(completed.map((job) => job.processedBy)).size >= 2,
      "jobs were spread over more than one worker process",
    );
    const after = await supervisor.waitForHealth(
      (health) => health.workers.reduce((sum, worker) => sum + worker.processed, 0) === 30,
      "the heartbeats to count 30 processed jobs",
    );
    assert.equal(after.workers_alive, 3);
  } finally {
    await queue.close();
  }
});

Deno.test(
  "kill -9 of a worker mid-job: the slot restarts and the job completes once",
  integration,
  async () => {
    await using redis = await startRedis();
    const queue = producer(redis.client());
    await using supervisor = startSupervisor(["--count", "1", "--restart-delay", "200ms"], {
      redisUrl: redis.url,
    });
    try {
      await supervisor.waitForHealth(
        (health) => health.workers[0].state === "idle",
        "an idle worker",
      );
      const job = await queue.add("llm", echoJob("survives", 3000), { attempts: 1 });
      const busy = await supervisor.waitForHealth(
        (health) => health.workers[0].active_jobs === 1,
        "the worker to hold the job",
      );
      const pid = busy.workers[0].pid!;
      Deno.kill(pid, "SIGKILL");
      await waitUntil(async () => (await job.getState()) === "completed", {
        what: "the job to complete after the crash",
        timeoutMs: 30_000,
      });
      const done = (await queue.getJob(job.id!))!;
      assert.equal(done.returnvalue.text, "survives");
      // Completed once, on the first attempt: the crash spent no attempt and it was never failed.
      assert.equal(done.attemptsMade, 1);
      assert.equal(done.failedReason, undefined);
      const health = await supervisor.waitForHealth(
        (body) => body.workers[0].state === "idle",
        "the restarted worker to be idle",
      );
      assert.equal(health.workers[0].restarts, 1);
      assert.notEqual(health.workers[0].pid, pid);
      assert.equal(health.workers[0].processed, 1);
      // The supervisor put the job back at once instead of waiting for the stalled check.
      const given = logRecords(supervisor.logs).filter((record) =>
        "cause" in record && "givenBack" in record
      );
      assert.deepEqual(
        given.map(({ worker, givenBack, failed }) => ({ worker, givenBack, failed })),
        [{ worker: "worker-test-1", givenBack: 1, failed: 0 }],
      );
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "kill -9 of a worker right after it finished jobs: /health still counts every job it completed",
  integration,
  async () => {
    await using redis = await startRedis();
    await using stub = startStubLlm();
    const queue = producer(redis.client());
    await using supervisor = startSupervisor(["--count", "1", "--restart-delay", "200ms"], {
      redisUrl: redis.url,
      env: { OPENAI_API_KEY: "test", OPENAI_BASE_URL: `${stub.url}/v1` },
    });
    try {
      await supervisor.waitForHealth(
        (health) => health.workers[0].state === "idle",
        "an idle worker",
      );
      const pid = (await supervisor.health()).body.workers[0].pid!;
      // 200 quick jobs, then one that waits on the stub LLM. One job at a time: when the stub
      // sees the last job's request, the worker has counted the 200 before it (BullMQ emits a
      // job's completion before it runs the next), most likely after its last heartbeat.
      await queue.addBulk([
        ...Array.from({ length: 200 }, (_, index) => ({ name: "llm", data: echoJob(`n${index}`) })),
        { name: "llm", data: { prompt: "SLEEP60000 last", provider: { name: "openai" } } },
      ]);
      await waitUntil(
        () => stub.requests.some((request) => request.path.endsWith("/completions")),
        {
          what: "the last job's request",
          timeoutMs: 60_000,
          intervalMs: 2,
        },
      );
      Deno.kill(pid, "SIGKILL");
      const health = await supervisor.waitForHealth(
        (body) => body.workers[0].restarts === 1 && body.workers[0].pid !== pid,
        "the restarted worker",
      );
      assert.equal(await queue.getCompletedCount(), 200);
      assert.equal(health.workers[0].processed, 200);
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "kill -9 of a worker being replaced gives back its own job only, not the one its replacement (same name) runs",
  integration,
  async () => {
    await using redis = await startRedis();
    const queue = producer(redis.client());
    await using supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: { MAX_JOBS_PER_WORKER: "1" },
    });
    try {
      await supervisor.waitForHealth((health) => health.workers[0].state === "idle", "a worker");
      const old = (await supervisor.health()).body.workers[0].pid!;
      // The first job makes the worker due for replacement; it takes the second while its
      // replacement starts, and the replacement takes the third.
      const [, mine, theirs] = await queue.addBulk([
        { name: "llm", data: echoJob("first", 200) },
        { name: "llm", data: echoJob("old worker's", 4000), opts: { attempts: 1 } },
        { name: "llm", data: echoJob("replacement's", 4000), opts: { attempts: 1 } },
      ]);
      await waitUntil(
        async () => (await mine.getState()) === "active" && (await theirs.getState()) === "active",
        { what: "both long jobs to be active", timeoutMs: 30_000 },
      );
      Deno.kill(old, "SIGKILL");
      for (const job of [mine, theirs]) {
        await waitUntil(async () => (await job.getState()) === "completed", {
          what: `job ${job.id} to complete`,
          timeoutMs: 60_000,
        });
      }
      const given = logRecords(supervisor.logs).filter((record) =>
        "cause" in record && "givenBack" in record
      );
      assert.deepEqual(given.map((record) => record.givenBack), [1], JSON.stringify(given));
      assert.equal((await queue.getJob(theirs.id!))!.attemptsMade, 1);
    } finally {
      await queue.close();
    }
  },
);

Deno.test("SIGTERM with jobs in flight: all complete, exit 0", integration, async () => {
  await using redis = await startRedis();
  const queue = producer(redis.client());
  await using supervisor = startSupervisor(["--count", "2", "--concurrency", "2"], {
    redisUrl: redis.url,
  });
  try {
    await supervisor.waitForHealth(
      (health) => health.workers.every((w) => w.state === "idle"),
      "idle workers",
    );
    await queue.addBulk(
      Array.from(
        { length: 4 },
        (_, index) => ({ name: "llm", data: echoJob(`job ${index}`, 1500) }),
      ),
    );
    await supervisor.waitForHealth(
      (health) => health.workers.reduce((sum, worker) => sum + worker.active_jobs, 0) === 4,
      "4 jobs in flight",
    );
    supervisor.signal("SIGTERM");
    assert.equal(await supervisor.waitForExit(30_000), 0);
    assert.equal(await queue.getCompletedCount(), 4);
    assert.equal(await queue.getWaitingCount(), 0);
    assert.equal(await queue.getActiveCount(), 0);
  } finally {
    await queue.close();
  }
});

Deno.test(
  "drain deadline: unfinished jobs are given back to wait without spending an attempt",
  integration,
  async () => {
    await using redis = await startRedis();
    const queue = producer(redis.client());
    await using supervisor = startSupervisor(
      ["--count", "1", "--concurrency", "2", "--drain-timeout", "500ms"],
      { redisUrl: redis.url },
    );
    try {
      await supervisor.waitForHealth(
        (health) => health.workers[0].state === "idle",
        "an idle worker",
      );
      const jobs = await queue.addBulk([
        { name: "llm", data: echoJob("slow 1", 120_000), opts: { attempts: 3 } },
        { name: "llm", data: echoJob("slow 2", 120_000), opts: { attempts: 3 } },
      ]);
      await supervisor.waitForHealth(
        (health) => health.workers[0].active_jobs === 2,
        "2 jobs in flight",
      );
      supervisor.signal("SIGTERM");
      assert.equal(await supervisor.waitForExit(30_000), 0);
      for (const job of jobs) {
        const after = (await queue.getJob(job.id!))!;
        assert.equal(await after.getState(), "waiting");
        assert.equal(after.attemptsMade, 0);
        assert.equal(after.failedReason, undefined);
      }
      assert.equal(await queue.getActiveCount(), 0);
    } finally {
      await queue.close();
    }
  },
);

Deno.test("a second SIGTERM stops at once and still loses nothing", integration, async () => {
  await using redis = await startRedis();
  const queue = producer(redis.client());
  await using supervisor = startSupervisor(
    ["--count", "2", "--drain-timeout", "10m"],
    { redisUrl: redis.url },
  );
  try {
    await supervisor.waitForHealth(
      (health) => health.workers.every((w) => w.state === "idle"),
      "idle workers",
    );
    await queue.addBulk([
      { name: "llm", data: echoJob("slow 1", 600_000) },
      { name: "llm", data: echoJob("slow 2", 600_000) },
    ]);
    await supervisor.waitForHealth(
      (health) => health.workers.every((worker) => worker.active_jobs === 1),
      "both workers busy",
    );
    supervisor.signal("SIGTERM");
    await waitForRecord(
      supervisor,
      (record) => record.signal === "SIGTERM" && "seconds" in record,
      "the supervisor draining after SIGTERM",
    );
    supervisor.signal("SIGTERM");
    assert.equal(await supervisor.waitForExit(30_000), 0);
    assert.equal(await queue.getWaitingCount(), 2);
    assert.equal(await queue.getActiveCount(), 0);
  } finally {
    await queue.close();
  }
});

Deno.test("Redis stopped and restarted mid-run: every job completes", integration, async () => {
  await using redis = await startRedis({ persist: true });
  await using supervisor = startSupervisor(
    ["--count", "2", "--concurrency", "2", "--redis-grace", "500ms"],
    { redisUrl: redis.url },
  );
  const queue = producer(redis.client());
  try {
    await supervisor.waitForHealth(
      (health) => health.workers.every((w) => w.state === "idle"),
      "idle workers",
    );
    await queue.addBulk(
      Array.from(
        { length: 40 },
        (_, index) => ({ name: "llm", data: echoJob(`job ${index}`, 200) }),
      ),
    );
    await waitUntil(async () => (await queue.getCompletedCount()) >= 4, { what: "some jobs done" });
    await redis.stop();
    const down = await supervisor.waitForHealth(
      (health) => health.status === "unhealthy",
      "/health to report the outage",
    );
    assert.equal(down.redis.connected, false);
    const ready = await fetch(`http://127.0.0.1:${supervisor.healthPort}/ready`);
    assert.equal(ready.status, 503);
    await ready.body?.cancel();
    await redis.start();
    await waitUntil(async () => (await queue.getCompletedCount()) === 40, {
      what: "all 40 jobs to complete after the outage",
      timeoutMs: 60_000,
    });
    const up = await supervisor.waitForHealth(
      (health) => health.status === "healthy",
      "healthy again",
    );
    assert.equal(up.workers_alive, 2);
    assert.equal(await queue.getFailedCount(), 0);
  } finally {
    await queue.close();
  }
});

Deno.test("a hung worker is killed and its slot restarted", integration, async () => {
  await using redis = await startRedis();
  await using supervisor = startSupervisor(
    ["--count", "1", "--heartbeat-timeout", "2s", "--restart-delay", "100ms"],
    { redisUrl: redis.url },
  );
  const before = await supervisor.waitForHealth(
    (health) => health.workers[0].state === "idle",
    "an idle worker",
  );
  const pid = before.workers[0].pid!;
  Deno.kill(pid, "SIGSTOP");
  const after = await supervisor.waitForHealth(
    (health) => health.workers[0].restarts === 1 && health.workers[0].state === "idle",
    "the hung worker to be replaced",
  );
  assert.notEqual(after.workers[0].pid, pid);
  assert.equal(processExists(pid), false);
  const killed = await waitForRecord(
    supervisor,
    (record) => record.worker === "worker-test-1" && "silentS" in record,
    "the worker killed as hung",
  );
  assert.equal(killed.level, "ERROR");
  assert.ok(Number(killed.silentS) >= 2, `silent for ${killed.silentS} s, under 2 s`);
});

Deno.test(
  "restart intensity: past R restarts in T of a worker that was ready, the slot waits and /health says unhealthy",
  integration,
  async () => {
    await using redis = await startRedis();
    await using supervisor = startSupervisor(
      [
        "--count",
        "1",
        "--restart-delay",
        "100ms",
        "--restart-intensity",
        "2",
        "--restart-period",
        "10m",
        "--restart-max-delay",
        "10m",
      ],
      { redisUrl: redis.url },
    );
    for (let crash = 1; crash <= 3; crash++) {
      const body = await supervisor.waitForHealth(
        // Ready first: a slot whose processes were never ready is a crash loop, not a storm.
        (health) => health.workers[0].restarts === crash - 1 && health.workers[0].state === "idle",
        `worker process number ${crash} to be ready`,
      );
      Deno.kill(body.workers[0].pid!, "SIGKILL");
    }
    const storm = await supervisor.waitForHealth(
      (health) => health.workers[0].state === "fatal",
      "the slot to be held back",
    );
    const response = await supervisor.health();
    assert.equal(response.httpStatus, 503);
    assert.equal(storm.status, "unhealthy");
    assert.equal(storm.workers[0].pid, null);
    assert.equal(storm.workers[0].restarts, 2);
  },
);

Deno.test("workers exit by themselves when the supervisor dies", integration, async () => {
  await using redis = await startRedis();
  await using supervisor = startSupervisor(["--count", "2"], { redisUrl: redis.url });
  const body = await supervisor.waitForHealth(
    (health) => health.workers.every((worker) => worker.state === "idle"),
    "idle workers",
  );
  const pids = body.workers.map((worker) => worker.pid!);
  supervisor.signal("SIGKILL");
  await supervisor.exited;
  await waitUntil(() => pids.every((pid) => !processExists(pid)), {
    what: "orphaned workers to exit on stdin EOF",
  });
});

Deno.test(
  "stale registrations are removed at start and named in a log record; another host's live one stays; live ones carry a TTL",
  integration,
  async () => {
    await using redis = await startRedis();
    const client = redis.client();
    const old = new Date(Date.now() - 3_600_000).toISOString();
    const stale = (name: string, heartbeat: string) =>
      JSON.stringify({
        name,
        hostname: "x",
        pid: 1,
        queues: ["llm"],
        started_at: old,
        heartbeat_at: heartbeat,
      });
    await client.set("ppr:worker:worker-test-7", stale("worker-test-7", new Date().toISOString()));
    await client.set("ppr:worker:worker-gone-1", stale("worker-gone-1", old));
    await client.set(
      "ppr:worker:worker-other-1",
      stale("worker-other-1", new Date().toISOString()),
      "EX",
      60,
    );
    await using supervisor = startSupervisor(["--count", "1"], { redisUrl: redis.url });
    await supervisor.waitForHealth(
      (health) => health.workers[0].state === "idle",
      "an idle worker",
    );
    await waitUntil(async () => (await client.exists("ppr:worker:worker-test-1")) === 1, {
      what: "the live worker's registration",
    });
    assert.equal(await client.exists("ppr:worker:worker-test-7"), 0);
    assert.equal(await client.exists("ppr:worker:worker-gone-1"), 0);
    // Another host's live worker is left alone.
    assert.equal(await client.exists("ppr:worker:worker-other-1"), 1);
    const ttl = await client.ttl("ppr:worker:worker-test-1");
    assert.ok(ttl > 0 && ttl <= 15, `TTL ${ttl}`);
    const removed = await waitForRecord(
      supervisor,
      (record) => Array.isArray(record.names),
      "the stale registrations removed",
    );
    assert.equal(removed.count, 2);
    assert.deepEqual([...removed.names as string[]].sort(), ["worker-gone-1", "worker-test-7"]);
  },
);

Deno.test("SIGTTIN adds a worker, SIGTTOU drains the last one away", integration, async () => {
  await using redis = await startRedis();
  await using supervisor = startSupervisor(["--count", "1"], { redisUrl: redis.url });
  await supervisor.waitForHealth((health) => health.workers[0].state === "idle", "an idle worker");
  supervisor.signal("SIGTTIN");
  const grown = await supervisor.waitForHealth(
    (health) =>
      health.worker_count === 2 && health.workers.every((worker) => worker.state === "idle"),
    "a second idle worker",
  );
  assert.deepEqual(grown.workers.map((worker) => worker.name), ["worker-test-1", "worker-test-2"]);
  const secondPid = grown.workers[1].pid!;
  supervisor.signal("SIGTTOU");
  const shrunk = await supervisor.waitForHealth(
    (health) => health.worker_count === 1 && health.workers.length === 1,
    "the pool back at one worker",
  );
  assert.equal(shrunk.workers[0].name, "worker-test-1");
  await waitUntil(() => !processExists(secondPid), { what: "the removed worker to exit" });
});

Deno.test(
  "SIGHUP replaces every worker, one at a time (the next starts after the last old one stopped), and no job is lost",
  integration,
  async () => {
    await using redis = await startRedis();
    const queue = producer(redis.client());
    await using supervisor = startSupervisor(["--count", "2", "--concurrency", "2"], {
      redisUrl: redis.url,
    });
    try {
      const before = await supervisor.waitForHealth(
        (health) => health.workers.every((worker) => worker.state === "idle"),
        "idle workers",
      );
      const oldPids = before.workers.map((worker) => worker.pid!);
      await queue.addBulk(
        Array.from(
          { length: 20 },
          (_, index) => ({ name: "llm", data: echoJob(`job ${index}`, 300) }),
        ),
      );
      supervisor.signal("SIGHUP");
      const after = await supervisor.waitForHealth(
        (health) =>
          health.workers.every((worker) =>
            worker.restarts === 1 && worker.state !== "starting" && !oldPids.includes(worker.pid!)
          ),
        "both workers replaced",
        60_000,
      );
      assert.equal(after.workers_alive, 2);
      await waitUntil(async () => (await queue.getCompletedCount()) === 20, {
        what: "all 20 jobs to complete across the rolling restart",
        timeoutMs: 60_000,
      });
      assert.equal(await queue.getFailedCount(), 0);
      for (const pid of oldPids) {
        await waitUntil(() => !processExists(pid), { what: `old worker ${pid} to exit` });
      }
      // One at a time: slot n's replacement is ready before its old process drains and stops,
      // and slot n+1 is touched only after that.
      const messages = supervisor.logs.map((line) => {
        try {
          return String(JSON.parse(line).message).replaceAll('"', "");
        } catch {
          return line;
        }
      });
      const at = (pattern: RegExp) => {
        const index = messages.findIndex((message) => pattern.test(message));
        assert.ok(index >= 0, `no log line matches ${pattern}`);
        return index;
      };
      const steps = [1, 2].flatMap((slot) => [
        at(new RegExp(`worker-test-${slot}: rolling restart`)),
        at(new RegExp(`worker-test-${slot} ready \\(pid ${after.workers[slot - 1].pid}\\)`)),
        at(new RegExp(`worker-test-${slot} stopped, \\d+ job\\(s\\) given back`)),
      ]);
      assert.deepEqual(steps, [...steps].sort((a, b) => a - b), `log order: ${steps}`);
    } finally {
      await queue.close();
    }
  },
);
