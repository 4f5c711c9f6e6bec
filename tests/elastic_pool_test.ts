/** The elastic pool with real workers and a real Redis: the LLM bound follows every change of size. */

import { strict as assert } from "node:assert";
import { Queue } from "bullmq";
import { producerQueue } from "../testing/jobs.ts";
import { startRedis } from "../testing/redis.ts";
import { startSupervisor, type Supervisor } from "../testing/ppr.ts";
import { startStubLlm, type StubLlm } from "../testing/stub_llm.ts";
import { waitUntil } from "../testing/wait.ts";
import { scrape, value } from "../testing/metrics.ts";
import { baseEnv, logRecords, runPpr } from "../testing/ppr.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

/** A pool of OpenAI-compatible workers on the stub, with `env` on top. */
function startLlmPool(
  args: string[],
  redisUrl: string,
  stub: StubLlm,
  env: Record<string, string> = {},
): Supervisor {
  return startSupervisor(args, {
    redisUrl,
    env: {
      LLM_PROVIDER: "openai",
      OPENAI_API_KEY: "test",
      OPENAI_BASE_URL: `${stub.url}/v1`,
      ...env,
    },
  });
}

/** Sends `signal` and waits for the pool to reach `size` workers, every one of them alive. */
async function resize(supervisor: Supervisor, signal: Deno.Signal, size: number): Promise<void> {
  supervisor.signal(signal);
  await supervisor.waitForHealth(
    (health) =>
      health.worker_count === size && health.workers.length === size &&
      health.workers.every((worker) => worker.state === "idle" || worker.state === "busy"),
    `${size} workers after ${signal}`,
    60_000,
  );
}

Deno.test(
  "LLM_MAX_IN_FLIGHT=3 follows SIGTTIN and SIGTTOU from 1 to 6 workers and back: never more than 3 LLM calls at once, the added workers take their share, and 3 are in use at the end",
  integration,
  async () => {
    await using redis = await startRedis();
    await using stub = startStubLlm();
    const queue = new Queue("llm", { connection: redis.client() });
    await using supervisor = startLlmPool(["--count", "1", "--concurrency", "4"], redis.url, stub, {
      LLM_MAX_IN_FLIGHT: "3",
    });
    try {
      await supervisor.waitForHealth((body) => body.workers[0]?.state === "idle", "the worker");
      await queue.addBulk(
        Array.from({ length: 1500 }, (_, index) => ({
          name: "llm",
          data: { prompt: `SLEEP150 job ${index}` },
        })),
      );
      await waitUntil(() => stub.sleeping.now === 3, { what: "3 calls on the one worker" });
      for (let size = 2; size <= 6; size++) await resize(supervisor, "SIGTTIN", size);
      // Shares of 3 over 6 workers: 1, 1, 1, 0, 0, 0; the 2nd and 3rd got theirs.
      const grown = await supervisor.waitForHealth(
        (health) => health.workers[1].processed > 0 && health.workers[2].processed > 0,
        "the 2nd and 3rd workers to run LLM jobs",
        60_000,
      );
      assert.equal(grown.workers[5].processed, 0, "the 6th worker's share is 0");
      for (let size = 5; size >= 1; size--) await resize(supervisor, "SIGTTOU", size);
      // The workers drained away have gone: their shares are the one left's.
      await waitUntil(() => stub.sleeping.now === 3, {
        what: "3 calls on the one worker left",
        timeoutMs: 30_000,
      });
      assert.equal(stub.sleeping.most, 3, "never more than LLM_MAX_IN_FLIGHT calls at once");
      assert.equal(await queue.getFailedCount(), 0);
    } finally {
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
    }
  },
);

Deno.test(
  "--autoscale 1,4: a burst grows the pool to 4 and it drains back to 1 afterwards; every job completes, each started once; the decisions are logged and exported",
  integration,
  async () => {
    await using redis = await startRedis();
    const queue = new Queue("llm", { connection: redis.client() });
    await using supervisor = startSupervisor(
      ["--autoscale", "1,4", "--autoscale-down-delay", "1s"],
      { redisUrl: redis.url },
    );
    try {
      await supervisor.waitForHealth((body) => body.workers[0]?.state === "idle", "the worker");
      const jobs = await queue.addBulk(
        Array.from({ length: 40 }, (_, index) => ({
          name: "llm",
          data: { prompt: `burst ${index}`, provider: { name: "echo", latency_ms: 300 } },
        })),
      );
      await supervisor.waitForHealth(
        (body) => body.worker_count === 4 && body.autoscale?.reason === "backlog",
        "the pool grown to 4",
      );
      const grown = await scrape(supervisor);
      assert.equal(value(grown, "ppr_autoscale_max_workers"), 4);
      assert.equal(value(grown, "ppr_autoscale_desired_workers"), 4);
      await waitUntil(async () => (await queue.getCompletedCount()) === 40, {
        what: "the 40 jobs to complete",
        timeoutMs: 60_000,
      });
      const shrunk = await supervisor.waitForHealth(
        (body) => body.worker_count === 1 && body.workers.length === 1,
        "the pool back at 1 worker",
        60_000,
      );
      assert.equal(shrunk.autoscale?.min, 1);
      assert.equal(await queue.getFailedCount(), 0);
      for (const job of jobs) {
        const done = await queue.getJob(job.id!);
        assert.equal(done?.attemptsStarted, 1, `job ${job.id} was started once, never interrupted`);
      }
      const records = logRecords(supervisor.logs);
      assert.ok(
        records.some((record) => record.reason === "backlog" && record.to === 4),
        "the growth is logged with its reason",
      );
      assert.ok(
        records.some((record) => record.reason === "idle" && record.to === 1),
        "the last shrink is logged with its reason",
      );
      const after = await scrape(supervisor);
      assert.equal(value(after, "ppr_autoscale_decision", { reason: "backlog" }), 0);
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "ppr-worker scale resizes a running supervisor through Redis and prints what it did; --host of no supervisor changes nothing and exits 1",
  integration,
  async () => {
    await using redis = await startRedis();
    await using supervisor = startSupervisor(["--count", "1"], { redisUrl: redis.url });
    await supervisor.waitForHealth((body) => body.workers[0]?.state === "idle", "the worker");
    const env = baseEnv({ REDIS_URL: redis.url });
    const grown = await runPpr(["scale", "3"], env);
    assert.equal(grown.code, 0, grown.stderr);
    assert.equal(grown.stdout.trim(), "test: 1 -> 3 worker(s)");
    await supervisor.waitForHealth(
      (body) => body.worker_count === 3 && body.workers_alive === 3,
      "3 workers",
    );
    const elsewhere = await runPpr(["scale", "1", "--host", "other"], env);
    assert.equal(elsewhere.code, 1);
    assert.match(
      elsewhere.stderr,
      /no supervisor runs as host other on this Redis \(1 other\(s\) answered\)/,
    );
    const shrunk = await runPpr(["scale", "1", "--host", "test", "--json"], env);
    assert.equal(shrunk.code, 0, shrunk.stderr);
    assert.deepEqual(JSON.parse(shrunk.stdout), { host: "test", skipped: false, from: 3, to: 1 });
    await supervisor.waitForHealth(
      (body) => body.worker_count === 1 && body.workers.length === 1,
      "the pool back at 1 worker",
    );
    const usage = await runPpr(["scale", "0"], env);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /<n> = "0": must be an integer from 1 to 20/);
  },
);

Deno.test(
  "a resize that changes nothing says why: SIGTTOU at 1 worker, SIGTTIN at the most, and scale while the supervisor drains after SIGTERM",
  integration,
  async () => {
    await using redis = await startRedis();
    const queue = producerQueue(redis);
    await using supervisor = startSupervisor(["--autoscale", "1,1", "--drain-timeout", "60s"], {
      redisUrl: redis.url,
    });
    try {
      await supervisor.waitForHealth((body) => body.workers[0]?.state === "idle", "the worker");
      supervisor.signal("SIGTTOU");
      await supervisor.waitForLog(/SIGTTOU: pool size stays 1 \(at its fewest: 1\)/);
      supervisor.signal("SIGTTIN");
      await supervisor.waitForLog(/SIGTTIN: pool size stays 1 \(at its most: 1\)/);

      // A job in flight keeps the draining supervisor up while scale asks it to grow.
      await queue.add("llm", { prompt: "hold", provider: { name: "echo", latency_ms: 20_000 } });
      await supervisor.waitForHealth((body) => body.workers[0]?.state === "busy", "a busy worker");
      supervisor.signal("SIGTERM");
      await supervisor.waitForLog(/SIGTERM: draining/);
      const scaled = await runPpr(["scale", "3"], baseEnv({ REDIS_URL: redis.url }));
      assert.equal(scaled.code, 0, scaled.stderr);
      assert.equal(
        scaled.stdout.trim(),
        "test: stays at 1 worker(s); it is stopping (SIGTERM): not resized",
      );
      supervisor.signal("SIGTERM");
      assert.equal(await supervisor.waitForExit(30_000), 0);
    } finally {
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
    }
  },
);

Deno.test(
  "--autoscale 1,3: info and info --json show the pool's autoscaler from Redis (host, workers, range, the size it wants and why, as /health has it), and none once the supervisor has stopped",
  integration,
  async () => {
    await using redis = await startRedis();
    const env = baseEnv({ REDIS_URL: redis.url });
    await using supervisor = startSupervisor(["--autoscale", "1,3"], { redisUrl: redis.url });
    await supervisor.waitForHealth(
      (body) => body.workers[0]?.state === "idle" && body.autoscale?.reason !== undefined,
      "the autoscaler's first look",
    );
    // The row says what /health says (the record follows each change of the decision).
    const { reason } = await waitUntil(async () => {
      const info = await runPpr(["info"], env);
      const { autoscale } = (await supervisor.health()).body;
      const row = new RegExp(
        `\\ntest\\s+-\\s+1\\s+1-3\\s+${autoscale?.desired}\\s+${autoscale?.reason}: \\S`,
      );
      return row.test(info.stdout) ? autoscale! : undefined;
    }, { what: "info to show the autoscaler as /health does", timeoutMs: 15_000 });
    const json = JSON.parse((await runPpr(["info", "--json"], env)).stdout);
    assert.deepEqual(
      json.autoscalers.map((record: Record<string, unknown>) => [
        record.hostname,
        record.pool,
        record.min,
        record.max,
        record.size,
        record.reason,
      ]),
      [["test", null, 1, 3, 1, reason]],
    );
    supervisor.signal("SIGTERM");
    await supervisor.waitForExit(30_000);
    const after = JSON.parse((await runPpr(["info", "--json"], env)).stdout);
    assert.deepEqual(after.autoscalers, [], "its supervisor removed the record when it stopped");
  },
);
