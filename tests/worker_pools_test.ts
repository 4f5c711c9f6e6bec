/** WORKER_POOLS with real workers and a real redis-server: a pool per queue, each with its own size, resized alone by `scale --pool`. */

import { strict as assert } from "node:assert";
import { Queue, QueueEvents } from "bullmq";
import { startRedis } from "../testing/redis.ts";
import { baseEnv, type HealthBody, runPpr, startSupervisor } from "../testing/ppr.ts";
import { scrape, value } from "../testing/metrics.ts";
import { startStubLlm } from "../testing/stub_llm.ts";
import { waitUntil } from "../testing/wait.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

/** Two standard queues whose jobs `cat` runs: each job's result is its own data. */
const TWO_QUEUES = { QUEUE_NAME: "alpha,beta", QUEUE_PROCESSORS: "alpha=cat;beta=cat" };

/** The names of the live workers of `pool` in a /health body. */
function poolWorkers(body: HealthBody, pool: string): string[] {
  return body.workers.filter((worker) =>
    (worker as { pool?: string }).pool === pool &&
    (worker.state === "idle" || worker.state === "busy")
  ).map((worker) => worker.name);
}

/** What /health says of `pool` in its `pools` list. */
function poolOf(body: HealthBody, pool: string) {
  const pools = (body as { pools?: { name: string; size: number; concurrency: number }[] }).pools;
  return pools?.find((entry) => entry.name === pool);
}

/** The size /health gives `pool` in its `pools` list. */
function poolSize(body: HealthBody, pool: string): number | undefined {
  return poolOf(body, pool)?.size;
}

Deno.test(
  "--pools alpha=2,beta=1:3 runs 2 workers on alpha and 1 on beta (as /health, /metrics and BullMQ's worker list show, beta at concurrency 3), jobs of both complete, and scale 3 --pool alpha grows alpha alone",
  integration,
  async () => {
    await using redis = await startRedis();
    const alpha = new Queue("alpha", { connection: redis.client() });
    const beta = new Queue("beta", { connection: redis.client() });
    const alphaEvents = new QueueEvents("alpha", { connection: redis.client() });
    const betaEvents = new QueueEvents("beta", { connection: redis.client() });
    await using supervisor = startSupervisor(["--pools", "alpha=2,beta=1:3"], {
      redisUrl: redis.url,
      env: TWO_QUEUES,
    });
    try {
      const started = await supervisor.waitForHealth(
        (body) => poolWorkers(body, "alpha").length === 2 && poolWorkers(body, "beta").length === 1,
        "2 alpha workers and 1 beta worker",
        60_000,
      );
      assert.deepEqual(poolWorkers(started, "alpha").sort(), [
        "worker-test@alpha-1",
        "worker-test@alpha-2",
      ]);
      assert.deepEqual(poolWorkers(started, "beta"), ["worker-test@beta-1"]);
      assert.equal(started.worker_count, 3);
      assert.equal(poolSize(started, "alpha"), 2);
      assert.equal(poolSize(started, "beta"), 1);
      assert.equal(poolOf(started, "alpha")?.concurrency, 1, "WORKER_CONCURRENCY's default");
      assert.equal(poolOf(started, "beta")?.concurrency, 3);
      const metrics = await scrape(supervisor);
      assert.equal(value(metrics, "ppr_pool_workers_configured", { pool: "alpha" }), 2);
      assert.equal(value(metrics, "ppr_pool_workers_configured", { pool: "beta" }), 1);
      // Each worker serves its pool's queue only: BullMQ lists one Worker per process there.
      await waitUntil(
        async () =>
          (await alpha.getWorkers()).length === 2 && (await beta.getWorkers()).length === 1,
        {
          what: "BullMQ's workers: 2 on alpha, 1 on beta",
        },
      );

      const alphaJob = await alpha.add("a", { n: 1 });
      const betaJob = await beta.add("b", { n: 2 });
      await alphaEvents.waitUntilReady();
      await betaEvents.waitUntilReady();
      const [alphaDone, betaDone] = await Promise.all([
        alphaJob.waitUntilFinished(alphaEvents, 30_000),
        betaJob.waitUntilFinished(betaEvents, 30_000),
      ]);
      assert.deepEqual(alphaDone, { n: 1 });
      assert.deepEqual(betaDone, { n: 2 });

      const env = baseEnv({ REDIS_URL: redis.url });
      const grown = await runPpr(["scale", "3", "--pool", "alpha"], env);
      assert.equal(grown.code, 0, grown.stderr);
      assert.equal(grown.stdout.trim(), "test pool alpha: 2 -> 3 worker(s)");
      const after = await supervisor.waitForHealth(
        (body) => poolWorkers(body, "alpha").length === 3,
        "3 alpha workers",
        60_000,
      );
      assert.deepEqual(poolWorkers(after, "beta"), ["worker-test@beta-1"]);
      assert.equal(poolSize(after, "alpha"), 3);
      assert.equal(poolSize(after, "beta"), 1);
      await waitUntil(async () => (await alpha.getWorkers()).length === 3, {
        what: "BullMQ's workers: 3 on alpha",
      });
      assert.equal((await beta.getWorkers()).length, 1);

      const unnamed = await runPpr(["scale", "2"], env);
      assert.equal(unnamed.code, 1);
      assert.match(
        unnamed.stderr,
        /test resized nothing: it runs 2 pools \(alpha, beta\): name one with --pool/,
      );
      const unknown = await runPpr(["scale", "2", "--pool", "gamma"], env);
      assert.equal(unknown.code, 1);
      assert.match(
        unknown.stderr,
        /no supervisor runs a pool gamma on this Redis \(1 other\(s\) answered\)/,
      );
      assert.equal(poolSize((await supervisor.health()).body, "beta"), 1);

      supervisor.signal("SIGTERM");
      assert.equal(await supervisor.waitForExit(30_000), 0);
    } finally {
      await alphaEvents.close();
      await betaEvents.close();
      await alpha.close();
      await beta.close();
    }
  },
);

Deno.test(
  "--pools llm=1-3:2,alpha=1 with LLM_MAX_IN_FLIGHT=2: a burst on llm grows its pool alone, to the 2 workers the bound has calls for, both run LLM jobs and never more than 2 calls are at the LLM at once; alpha stays at 1",
  integration,
  async () => {
    await using redis = await startRedis();
    await using stub = startStubLlm();
    const llm = new Queue("llm", { connection: redis.client() });
    await using supervisor = startSupervisor(
      ["--pools", "llm=1-3:2,alpha=1", "--autoscale-down-delay", "1h"],
      {
        redisUrl: redis.url,
        env: {
          QUEUE_NAME: "llm,alpha",
          QUEUE_PROCESSORS: "alpha=cat",
          LLM_PROVIDER: "openai",
          OPENAI_API_KEY: "test",
          OPENAI_BASE_URL: `${stub.url}/v1`,
          LLM_MAX_IN_FLIGHT: "2",
        },
      },
    );
    try {
      await supervisor.waitForHealth(
        (body) => poolWorkers(body, "llm").length === 1 && poolWorkers(body, "alpha").length === 1,
        "1 llm worker and 1 alpha worker",
        60_000,
      );
      await llm.addBulk(
        Array.from({ length: 400 }, (_, index) => ({
          name: "llm",
          data: { prompt: `SLEEP150 job ${index}` },
        })),
      );
      const llmAutoscale = (body: HealthBody) =>
        (body as { pools?: { name: string; autoscale: { reason: string } | null }[] }).pools
          ?.find((pool) => pool.name === "llm")?.autoscale;
      const grown = await supervisor.waitForHealth(
        (body) =>
          poolWorkers(body, "llm").length === 2 && llmAutoscale(body)?.reason === "llm_bound",
        "the llm pool grown to 2 and held there by the bound",
        60_000,
      );
      assert.equal(
        (grown as { pools?: { name: string; autoscale: unknown }[] }).pools
          ?.find((pool) => pool.name === "alpha")?.autoscale,
        null,
        "alpha has no range: no autoscaler",
      );
      await supervisor.waitForHealth(
        (body) =>
          body.workers.filter((worker) => worker.name.startsWith("worker-test@llm-"))
            .every((worker) => worker.processed > 0),
        "both llm workers to run LLM jobs",
        60_000,
      );
      const after = (await supervisor.health()).body;
      assert.equal(poolSize(after, "llm"), 2, "the bound has calls for 2 workers only");
      assert.deepEqual(poolWorkers(after, "alpha"), ["worker-test@alpha-1"]);
      assert.equal(stub.sleeping.most, 2, "never more than LLM_MAX_IN_FLIGHT calls at once");
      supervisor.signal("SIGTERM");
      supervisor.signal("SIGTERM");
      assert.equal(await supervisor.waitForExit(30_000), 0);
    } finally {
      await llm.obliterate({ force: true }).catch(() => {});
      await llm.close();
    }
  },
);

Deno.test(
  "scale --pool never takes the pools past 20 workers together: with --pools alpha=1-18,beta=1, scale 5 --pool beta grows beta to 2 only and says why",
  integration,
  async () => {
    await using redis = await startRedis();
    await using supervisor = startSupervisor(["--pools", "alpha=1-18,beta=1"], {
      redisUrl: redis.url,
      env: TWO_QUEUES,
    });
    await supervisor.waitForHealth(
      (body) => poolWorkers(body, "alpha").length === 1 && poolWorkers(body, "beta").length === 1,
      "1 alpha worker and 1 beta worker",
      60_000,
    );
    const env = baseEnv({ REDIS_URL: redis.url });
    const scaled = await runPpr(["scale", "5", "--pool", "beta"], env);
    assert.equal(scaled.code, 0, scaled.stderr);
    assert.equal(
      scaled.stdout.trim(),
      "test pool beta: 1 -> 2 worker(s); 5 is outside at most 2 (the other pools may run 18 of 20)",
    );
    const after = await supervisor.waitForHealth(
      (body) => poolWorkers(body, "beta").length === 2,
      "2 beta workers",
      60_000,
    );
    assert.equal(poolSize(after, "beta"), 2);
    assert.equal(poolSize(after, "alpha"), 1);
    supervisor.signal("SIGTERM");
    assert.equal(await supervisor.waitForExit(30_000), 0);
  },
);
