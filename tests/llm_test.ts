/** LLM jobs end to end: the fake Claude CLI, stub APIs, failure classes, the shared pause, result routing. */

import { strict as assert } from "node:assert";
import { type Job, Queue } from "bullmq";
import { startRedis } from "../testing/redis.ts";
import { startSupervisor } from "../testing/ppr.ts";
import { startStubLlm } from "../testing/stub_llm.ts";
import { processExists, waitUntil } from "../testing/wait.ts";
import { delay } from "../async/mod.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

function exists(path: string): Promise<boolean> {
  return Deno.stat(path).then(() => true, () => false);
}
const FAKE_CLAUDE = new URL("../testing/fake_claude", import.meta.url).pathname;

/** A HOME for the fake CLI (its log and its auth state), and CLAUDE_CLI pointing at it. */
async function fakeClaudeEnv(loggedIn = true) {
  const home = await Deno.makeTempDir({ prefix: "ppr-fake-claude-" });
  if (loggedIn) await Deno.writeTextFile(`${home}/fake-claude-auth`, "in");
  return {
    home,
    env: {
      HOME: home,
      CLAUDE_CLI: FAKE_CLAUDE,
      // The fake speaks only the one-process-per-job protocol.
      CLAUDE_CLI_MODE: "cold",
      LLM_PROVIDER: "claude",
      LLM_PROBE_INTERVAL: "1s",
    },
    log: () => Deno.readTextFile(`${home}/fake-claude.log`).catch(() => ""),
    [Symbol.asyncDispose]: () => Deno.remove(home, { recursive: true }).catch(() => {}),
  };
}

function producer(redis: Awaited<ReturnType<typeof startRedis>>, name = "llm") {
  const queue = new Queue(name, { connection: redis.client() });
  queue.on("error", () => {});
  queues.set(name, queue);
  return queue;
}

/** Waits until `job` has completed or failed and returns it as it is then. */
async function finished(job: Job, what: string, timeoutMs = 30_000): Promise<Job> {
  await waitUntil(async () => ["completed", "failed"].includes(await job.getState()), {
    what,
    timeoutMs,
  });
  return (await queues.get(job.queueName)!.getJob(job.id!))!;
}

const queues = new Map<string, Queue>();
Deno.test(
  "Claude CLI (fake, to see its command line): prompt on stdin, documented flags, minimal environment, CLI retries off, a private working directory removed at exit",
  integration,
  async () => {
    await using redis = await startRedis();
    await using fake = await fakeClaudeEnv();
    const queue = producer(redis);
    await using supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: { ...fake.env, SECRET_OF_THE_HOST: "do-not-leak" },
    });
    try {
      await supervisor.waitForHealth((health) => health.workers_alive === 1, "a worker");
      const job = await queue.add("llm", {
        prompt: [{ role: "system", content: "be terse" }, {
          role: "user",
          content: "the page text",
        }],
        provider: { model: "claude-haiku-4-5" },
        metadata: { scraper_id: "s1" },
      });
      const done = await finished(job, "the CLI job");
      assert.equal(await done.getState(), "completed");
      assert.deepEqual(done.returnvalue.text, "fake: the page text");
      assert.equal(done.returnvalue.provider, "claude");
      assert.equal(done.returnvalue.model, "claude-fake-1");
      assert.deepEqual(done.returnvalue.usage, {
        input_tokens: 12,
        output_tokens: 7,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 3,
      });
      const log = await fake.log();
      assert.match(
        log,
        /ARGS \[-p\] \[--output-format\] \[json\] \[--tools\] \[\] \[--strict-mcp-config\] \[--setting-sources\] \[\] \[--no-session-persistence\] \[--model\] \[claude-haiku-4-5\] \[--system-prompt\] \[be terse\]/,
      );
      assert.match(log, /STDIN the page text/);
      const argsLine = log.split("\n").find((line) => line.startsWith("ARGS"))!;
      assert.ok(!argsLine.includes("the page text"), "the prompt is not in argv");
      const envLine = log.split("\n").find((line) => line.startsWith("ENV"))!;
      assert.ok(!envLine.includes("SECRET_OF_THE_HOST"), "the host's environment does not leak");
      assert.ok(!envLine.includes("REDIS_URL"));
      assert.match(envLine, /CLAUDE_CODE_MAX_RETRIES=0 /);
      assert.match(envLine, /CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 /);
      const cwd = log.split("\n").find((line) => line.startsWith("CWD"))!.slice(4);
      assert.match(cwd, /\/ppr-claude-cli-[^/]+$/, "a private working directory");
      assert.notEqual(cwd, Deno.cwd());
      const health = await supervisor.waitForHealth(
        (body) => body.claude_authenticated === true,
        "the auth probe",
      );
      assert.equal(health.llm.state, "ok");
      supervisor.signal("SIGTERM");
      assert.equal(await supervisor.waitForExit(), 0);
      assert.equal(
        await exists(cwd),
        false,
        "the working directory is removed when the worker stops",
      );
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "LLM_TIMEOUT kills the CLI and what it started; the job is retried as transient",
  integration,
  async () => {
    await using redis = await startRedis();
    await using fake = await fakeClaudeEnv();
    const queue = producer(redis);
    await using supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: { ...fake.env, LLM_TIMEOUT: "1s" },
    });
    try {
      await supervisor.waitForHealth((health) => health.workers_alive === 1, "a worker");
      const job = await queue.add("llm", { prompt: "HANG" }, { attempts: 1 });
      const pidsFile = `${fake.home}/fake-claude-hang.pids`;
      const pids = await waitUntil(
        async () => (await Deno.readTextFile(pidsFile).catch(() => "")).trim() || undefined,
        { what: "the fake CLI to hang" },
      );
      const [cliPid, childPid] = pids.split(" ").map(Number);
      await waitUntil(() => !processExists(cliPid) && !processExists(childPid), {
        what: "the CLI and its child to be killed by the timeout",
      });
      await waitUntil(async () => (await job.getState()) === "delayed", {
        what: "the job to wait for its retry",
      });
      const logs = await queue.getJobLogs(job.id!);
      assert.match(logs.logs[0], /timed out after 1 s \(LLM_TIMEOUT\)/);
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "auth failure: no attempt spent, job back in the queue, pause shared; resumes when the probe passes",
  integration,
  async () => {
    await using redis = await startRedis();
    await using fake = await fakeClaudeEnv(false);
    await using fakeB = await fakeClaudeEnv(false);
    const queue = producer(redis);
    // Two supervisors ("containers") on one Redis.
    await using a = startSupervisor(["--count", "1", "--hostname", "a"], {
      redisUrl: redis.url,
      env: fake.env,
    });
    await using b = startSupervisor(["--count", "1", "--hostname", "b"], {
      redisUrl: redis.url,
      env: fakeB.env,
    });
    try {
      for (const supervisor of [a, b]) {
        const health = await supervisor.waitForHealth(
          (body) => body.llm.state === "auth_failed" && body.workers_alive === 1,
          "the failed probe to pause the provider",
        );
        assert.equal(health.claude_authenticated, false);
        assert.equal(health.status, "degraded");
        assert.ok(health.llm.retry_in_seconds > 0);
      }
      const job = await queue.add("llm", { prompt: "hello after login" }, { attempts: 1 });
      // Both pools are paused: the job waits, untouched.
      await delay(1500);
      assert.equal(await job.getState(), "waiting");
      // Log in (the containers share the CLI's login in production: both see it).
      await Deno.writeTextFile(`${fake.home}/fake-claude-auth`, "in");
      await Deno.writeTextFile(`${fakeB.home}/fake-claude-auth`, "in");
      const done = await finished(job, "the job after the pause lifts");
      assert.equal(await done.getState(), "completed");
      assert.equal(done.attemptsMade, 1);
      assert.equal(done.returnvalue.text, "fake: hello after login");
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "quota with a reset time: paused until then, no attempt spent, work resumes by itself",
  integration,
  async () => {
    await using redis = await startRedis();
    await using fake = await fakeClaudeEnv();
    const queue = producer(redis);
    await using supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: fake.env,
    });
    try {
      await supervisor.waitForHealth((health) => health.workers_alive === 1, "a worker");
      // The fake CLI answers "usage limit reached|<in 2 s>" once, then succeeds.
      const job = await queue.add("llm", { prompt: "QUOTA_ONCE" }, { attempts: 1 });
      const paused = await supervisor.waitForHealth(
        (body) => body.llm.state === "quota_exceeded",
        "a quota pause",
      );
      assert.ok(paused.llm.retry_in_seconds <= 3, `retry in ${paused.llm.retry_in_seconds} s`);
      assert.equal(paused.status, "degraded");
      const done = await finished(job, "the job after the quota pause");
      assert.equal(await done.getState(), "completed");
      assert.equal(done.attemptsMade, 1);
      assert.equal(done.returnvalue.text, "done after quota");
      assert.equal((await fake.log()).match(/STDIN QUOTA_ONCE/g)?.length, 2);
      await supervisor.waitForHealth((body) => body.llm.state === "ok", "the pause to end");
      // Each success after a quota pause ends the run of strikes, not only the first one.
      const strikes = "ppr:llm:quota-strikes:claude";
      assert.equal(await redis.client().exists(strikes), 0);
      await Deno.remove(`${fake.home}/quota-once`);
      const again = await finished(
        await queue.add("llm", { prompt: "QUOTA_ONCE" }, { attempts: 1 }),
        "the second job after a second quota pause",
      );
      assert.equal(await again.getState(), "completed");
      assert.equal(await redis.client().exists(strikes), 0);
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "Claude API mode (stub): success, 500 retried, 429 pauses with retry-after, 401 pauses",
  integration,
  async () => {
    await using redis = await startRedis();
    await using stub = startStubLlm();
    const queue = producer(redis);
    await using supervisor = startSupervisor(["--count", "1", "--concurrency", "2"], {
      redisUrl: redis.url,
      env: {
        LLM_PROVIDER: "claude",
        ANTHROPIC_API_KEY: "test-key",
        ANTHROPIC_BASE_URL: stub.url,
        LLM_MODEL_NAME: "claude-stub",
      },
    });
    try {
      await supervisor.waitForHealth(
        (health) => health.claude_authenticated === true,
        "the API key probe",
      );
      const ok = await finished(await queue.add("llm", { prompt: "hello api" }), "the API job");
      assert.equal(ok.returnvalue.text, "stub: hello api");
      assert.equal(ok.returnvalue.model, "claude-stub");
      assert.deepEqual(ok.returnvalue.usage, {
        input_tokens: 11,
        output_tokens: 5,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      });
      const sent = stub.requests.find((request) => request.path === "/v1/messages")!;
      assert.equal(sent.apiKey, "test-key");
      const flaky = await finished(
        await queue.add("llm", { prompt: "FAIL_ONCE" }),
        "the flaky job",
      );
      assert.equal(await flaky.getState(), "completed");
      assert.match((await queue.getJobLogs(flaky.id!)).logs[0], /HTTP 500/);
      const schemaJob = await finished(
        await queue.add("llm", { prompt: '{"n": 1}', format: { type: "object", required: ["n"] } }),
        "the structured API job",
      );
      assert.deepEqual(schemaJob.returnvalue.parsed, { n: 1 });
      const structuredRequest = stub.requests.findLast((request) =>
        request.path === "/v1/messages"
      )!;
      assert.deepEqual(structuredRequest.body.output_config, {
        format: { type: "json_schema", schema: { type: "object", required: ["n"] } },
      });
      const limited = await queue.add("llm", { prompt: "QUOTA" }, { attempts: 1 });
      await supervisor.waitForHealth(
        (body) => body.llm.state === "quota_exceeded",
        "the 429 pause",
      );
      await waitUntil(async () => ["waiting", "active"].includes(await limited.getState()), {
        what: "the 429 job back",
      });
      assert.equal((await queue.getJob(limited.id!))!.attemptsMade, 0);
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "structured output (API stub): off-schema output is retried, then fails naming the violation",
  integration,
  async () => {
    await using redis = await startRedis();
    await using stub = startStubLlm();
    const queue = producer(redis);
    await using supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: { LLM_PROVIDER: "claude", ANTHROPIC_API_KEY: "test-key", ANTHROPIC_BASE_URL: stub.url },
    });
    try {
      await supervisor.waitForHealth((health) => health.workers_alive === 1, "a worker");
      const schema = {
        type: "object",
        required: ["name"],
        properties: { name: { type: "string" } },
      };
      // The stub answers a JSON-schema request with the prompt itself: here, off-schema JSON.
      const bad = await queue.add("llm", { prompt: '{"name": 42}', format: schema }, {
        attempts: 2,
      });
      const failed = await finished(bad, "the off-schema job to fail after its tries");
      assert.equal(await failed.getState(), "failed");
      assert.match(
        failed.failedReason,
        /^failed 2 times; try 1: the output does not fit the schema: name: must be a string/,
      );
      const tries = stub.requests.filter((request) => request.path === "/v1/messages");
      assert.equal(tries.length, 2);
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "OpenAI-compatible (stub): response_format json_schema, usage, 401 is auth",
  integration,
  async () => {
    await using redis = await startRedis();
    await using stub = startStubLlm();
    const queue = producer(redis);
    await using supervisor = startSupervisor(["--count", "1"], {
      redisUrl: redis.url,
      env: {
        LLM_PROVIDER: "openai",
        OPENAI_API_KEY: "sk-test",
        OPENAI_BASE_URL: `${stub.url}/v1`,
        LLM_MODEL_NAME: "local-model",
      },
    });
    try {
      await supervisor.waitForHealth(
        (health) => health.workers_alive === 1 && health.llm.state === "ok",
        "a worker",
      );
      const schema = {
        type: "object",
        required: ["city"],
        properties: { city: { type: "string" } },
      };
      const done = await finished(
        await queue.add("llm", {
          prompt: '{"city": "Oakland"}',
          format: { type: "json_schema", json_schema: { name: "place", schema, strict: true } },
        }),
        "the OpenAI job",
      );
      assert.deepEqual(done.returnvalue.parsed, { city: "Oakland" });
      assert.equal(done.returnvalue.provider, "openai");
      assert.deepEqual(done.returnvalue.usage, {
        input_tokens: 13,
        output_tokens: 6,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      });
      const request = stub.requests.find((each) => each.path === "/v1/chat/completions")!;
      assert.equal(request.body.model, "local-model");
      assert.deepEqual(request.body.response_format, {
        type: "json_schema",
        json_schema: { name: "place", schema, strict: true },
      });
      assert.equal(request.apiKey, "sk-test");
      const denied = await queue.add("llm", { prompt: "AUTH" }, { attempts: 1 });
      await supervisor.waitForHealth((body) => body.llm.state === "auth_failed", "the 401 pause");
      assert.equal((await queue.getJob(denied.id!))!.attemptsMade, 0);
    } finally {
      await queue.close();
    }
  },
);

Deno.test("results go to LLM_RESULT_QUEUES as {job_id, job, result}", integration, async () => {
  await using redis = await startRedis();
  const queue = producer(redis);
  const recorder = producer(redis, "recorder");
  await using supervisor = startSupervisor(["--count", "1"], {
    redisUrl: redis.url,
    env: { LLM_RESULT_QUEUES: "recorder" },
  });
  try {
    await supervisor.waitForHealth((health) => health.workers_alive === 1, "a worker");
    const job = await queue.add("llm", { prompt: "route me", metadata: { content_hash: "abc" } });
    await finished(job, "the job");
    const [routed] = await waitUntil(async () => {
      const waiting = await recorder.getWaiting();
      return waiting.length > 0 ? waiting : undefined;
    }, { what: "the result on the recorder queue" });
    assert.equal(routed.id, `llm-${job.id}`);
    assert.equal(routed.data.job_id, job.id);
    assert.deepEqual(routed.data.job.metadata, { content_hash: "abc" });
    assert.equal(routed.data.result.text, "route me");
  } finally {
    await recorder.close();
    await queue.close();
  }
});

Deno.test(
  "LLM_MAX_IN_FLIGHT holds while workers are recycled: a replacement takes LLM jobs only once the worker it replaces has gone",
  integration,
  async () => {
    await using redis = await startRedis();
    await using stub = startStubLlm();
    const queue = producer(redis);
    await using supervisor = startSupervisor(["--count", "1", "--concurrency", "4"], {
      redisUrl: redis.url,
      env: {
        LLM_PROVIDER: "openai",
        OPENAI_API_KEY: "test",
        OPENAI_BASE_URL: `${stub.url}/v1`,
        LLM_MAX_IN_FLIGHT: "1",
        MAX_JOBS_PER_WORKER: "2",
      },
    });
    try {
      await supervisor.waitForHealth((body) => body.workers[0]?.state === "idle", "the worker");
      await queue.addBulk(
        Array.from({ length: 8 }, (_, index) => ({
          name: "llm",
          data: { prompt: `SLEEP300 job ${index}` },
        })),
      );
      let mostActive = 0;
      await waitUntil(async () => {
        const counts = await queue.getJobCounts("active", "completed", "failed");
        mostActive = Math.max(mostActive, counts.active);
        return counts.completed + counts.failed === 8;
      }, { what: "8 jobs to finish", timeoutMs: 60_000, intervalMs: 5 });
      assert.equal(await queue.getCompletedCount(), 8);
      assert.equal(mostActive, 1, "never 2 LLM jobs at once, replacements included");
      // The bound above held across a recycle: a replacement was made and took over. (Later
      // recycles may still be on their way: a loaded machine starts a worker in seconds.)
      await supervisor.waitForHealth(
        (body) => body.workers[0].restarts >= 1,
        "a recycle",
        90_000,
      );
    } finally {
      await queue.close();
    }
  },
);
