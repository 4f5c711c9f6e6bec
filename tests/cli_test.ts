/** The command line as a user meets it: help, version, configuration errors, enqueue. */

import { strict as assert } from "node:assert";
import manifest from "../deno.json" with { type: "json" };
import { baseEnv, runPpr, startSupervisor } from "../testing/ppr.ts";
import { freePort, startRedis, startReplicatedRedis } from "../testing/redis.ts";
import { SETTINGS } from "../providers/registry.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

Deno.test("--help lists the commands and every setting; exit 0", async () => {
  const { code, stdout } = await runPpr(["--help"]);
  assert.equal(code, 0);
  for (const command of ["worker", "enqueue", "healthcheck"]) {
    assert.match(stdout, new RegExp(command));
  }
  for (const setting of Object.values(SETTINGS)) {
    assert.ok(stdout.includes(setting.env), setting.env);
  }
  for (const command of ["worker", "enqueue", "healthcheck"]) {
    const help = await runPpr([command, "--help"]);
    assert.equal(help.code, 0, command);
    assert.match(help.stdout, new RegExp(`Usage: ppr-worker ${command}`));
  }
});

Deno.test("--version prints the version from deno.json", async () => {
  const { code, stdout } = await runPpr(["--version"]);
  assert.equal(code, 0);
  assert.equal(stdout.trim(), manifest.version);
});

Deno.test("invalid configuration: exit 2, every problem named in the message, the Redis password not shown", async () => {
  const { code, stderr } = await runPpr(
    ["--drain-timeout", "soon"],
    baseEnv({
      WORKER_COUNT: "21",
      REDIS_URL: "redis://:topsecret@",
      LLM_PROVIDER: "gpt",
    }),
  );
  assert.equal(code, 2);
  assert.match(stderr, /invalid configuration \(4 problems\)/);
  assert.match(stderr, /WORKER_COUNT \(--count\) = "21": must be an integer from 1 to 20/);
  assert.match(stderr, /REDIS_URL \(--redis-url\) = .*must be a redis:\/\//);
  assert.match(stderr, /LLM_PROVIDER \(--provider\) = "gpt": must be one of/);
  assert.match(stderr, /--drain-timeout = "soon": must be a duration/);
  assert.doesNotMatch(stderr, /topsecret/);
});

Deno.test(
  "invalid configuration: nothing starts: no connection to Redis, no key written, nothing on stdout, no log record",
  integration,
  async () => {
    await using redis = await startRedis();
    const client = redis.client();
    const connections = async () =>
      Number(/total_connections_received:(\d+)/.exec(await client.info("stats"))![1]);
    const before = await connections();
    const { code, stdout, stderr } = await runPpr(
      ["--drain-timeout", "soon", "--health-port", String(freePort())],
      baseEnv({ WORKER_COUNT: "21", REDIS_URL: redis.url, LLM_PROVIDER: "gpt" }),
    );
    assert.equal(code, 2, stderr);
    assert.equal(
      await connections(),
      before,
      "ppr-worker (or a worker it started) connected to Redis",
    );
    assert.equal(await client.dbsize(), 0);
    assert.equal(stdout, "");
    const records = stderr.split("\n").filter((line) => line.startsWith("{"));
    assert.deepEqual(records, [], "a JSON log record: something started");
  },
);

Deno.test("WORKER_COUNT=0 and WORKER_COUNT=abc are refused, not silently replaced by 1", async () => {
  for (const value of ["0", "abc"]) {
    const { code, stderr } = await runPpr([], baseEnv({ WORKER_COUNT: value }));
    assert.equal(code, 2, value);
    assert.match(stderr, new RegExp(`WORKER_COUNT \\(--count\\) = "${value}"`));
  }
});

Deno.test("an unknown flag is a usage error, exit 2", async () => {
  const { code, stderr } = await runPpr(["--cuont", "4"]);
  assert.equal(code, 2);
  assert.match(stderr, /unknown option '--cuont'/);
});

Deno.test(
  "enqueue --wait prints one JSON line per job, each completed with its result",
  integration,
  async () => {
    await using redis = await startRedis();
    await using supervisor = startSupervisor(["--count", "2"], { redisUrl: redis.url });
    await supervisor.waitForHealth((health) => health.workers_alive === 2, "2 workers");
    const { code, stdout, stderr } = await runPpr(
      ["enqueue", "--prompt", "hello", "--count", "3", "--wait", "--provider", "echo"],
      baseEnv({ REDIS_URL: redis.url }),
    );
    assert.equal(code, 0, stderr);
    const lines = stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.equal(lines.length, 3);
    for (const line of lines) {
      assert.equal(line.state, "completed");
      assert.equal(line.result.text, "hello");
    }
  },
);

Deno.test("enqueue refuses an invalid payload before it reaches Redis", async () => {
  const { code, stderr } = await runPpr(
    ["enqueue", "--data", '{"prompt": 5}'],
    baseEnv({ REDIS_URL: "redis://127.0.0.1:1" }),
  );
  assert.equal(code, 2);
  assert.match(stderr, /prompt: must be a string or a list/);
});

Deno.test(
  "enqueue with REDIS_WAIT_REPLICAS=1: exit 0 once the replica acknowledged; a frozen replica: exit 1 with the reason, the ids still printed",
  integration,
  async () => {
    await using servers = await startReplicatedRedis();
    const env = (timeout: string) =>
      baseEnv({
        REDIS_URL: servers.master.url,
        REDIS_WAIT_REPLICAS: "1",
        REDIS_WAIT_TIMEOUT: timeout,
        LOCK_DURATION: "10m",
      });
    // A timeout the answering replica cannot miss, however busy the machine (LOCK_DURATION
    // allows it: a WAIT may hold a connection a quarter of it).
    const acknowledged = await runPpr(
      ["enqueue", "--prompt", "safe", "--count", "2"],
      env("60s"),
    );
    assert.deepEqual([acknowledged.code, acknowledged.stdout, acknowledged.stderr], [
      0,
      "1\n2\n",
      "",
    ]);
    servers.replica.freeze();
    try {
      const unacknowledged = await runPpr(["enqueue", "--prompt", "at risk"], env("300ms"));
      assert.equal(unacknowledged.code, 1);
      assert.equal(unacknowledged.stdout, "3\n");
      assert.equal(
        unacknowledged.stderr,
        "ppr-worker enqueue: the 1 job(s) were added but not acknowledged by 1 replica(s) " +
          "(REDIS_WAIT_REPLICAS): 0 of 1 replica(s) within 300 ms; a failover now may lose " +
          "them (exit status 1)\n",
      );
    } finally {
      servers.replica.thaw();
    }
  },
);

Deno.test(
  "an invalid job fails at once, without retries; the same worker process then completes a valid job",
  integration,
  async () => {
    await using redis = await startRedis();
    await using supervisor = startSupervisor(["--count", "1"], { redisUrl: redis.url });
    await supervisor.waitForHealth((health) => health.workers_alive === 1, "a worker");
    const bad = await runPpr(
      ["enqueue", "--data", '{"prompt":"x"}', "--wait"],
      baseEnv({ REDIS_URL: redis.url }),
    );
    assert.equal(bad.code, 0);
    const { Queue } = await import("bullmq");
    const queue = new Queue("llm", { connection: redis.client() });
    try {
      const job = await queue.add("llm", { prompt: 42 }, { attempts: 5 });
      const { waitUntil } = await import("../testing/wait.ts");
      await waitUntil(async () => (await job.getState()) === "failed", { what: "the job to fail" });
      const failed = (await queue.getJob(job.id!))!;
      assert.equal(failed.attemptsMade, 1);
      assert.match(failed.failedReason, /invalid job data: prompt: must be a string or a list/);
      const before = await supervisor.health();
      const good = await queue.add("llm", { prompt: "after the invalid one" });
      await waitUntil(async () => (await good.getState()) === "completed", {
        what: "the valid job to complete",
      });
      const after = await supervisor.health();
      assert.equal(after.body.workers[0].pid, before.body.workers[0].pid);
      assert.equal(after.body.workers[0].restarts, 0);
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "an invalid env file stops the start: exit 2, its problems listed with the configuration's, no secret shown",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "ppr-reload-" });
    try {
      const file = `${dir}/pool.env`;
      const key = "sk-ant-secret-in-env-file-8c2d";
      await Deno.writeTextFile(file, `WORKER_COUNT=0\nANTHROPIC_API_KEY="${key}\n`);
      const { code, stderr } = await runPpr(
        ["--env-file", file, "--drain-timeout", "soon"],
        baseEnv({ WORKER_COUNT: "2" }),
      );
      assert.equal(code, 2);
      assert.match(stderr, /invalid configuration \(3 problems\)/);
      assert.match(
        stderr,
        /--env-file = ".*": line 2: the value of ANTHROPIC_API_KEY has no closing "/,
      );
      assert.match(stderr, /WORKER_COUNT \(--count\) = "0": must be an integer from 1 to 20/);
      assert.match(stderr, /--drain-timeout = "soon"/);
      assert.doesNotMatch(stderr, /sk-ant-secret/);
      const missing = await runPpr(["--env-file", `${dir}/missing.env`], baseEnv());
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /--env-file = ".*missing.env": cannot be read \(No such file/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
