/**
 * The operator's commands against a real redis-server and real supervisors: info, jobs,
 * requeue, cleanup, config, pause and resume, auth, and enqueue's inputs.
 */

import { reportSkipped } from "../testing/command.ts";
import { strict as assert } from "node:assert";
import { type Job, Queue } from "bullmq";
import { Worker } from "../redis/bullmq_internals.ts";
import manifest from "../deno.json" with { type: "json" };
import { forEachLine } from "../async/mod.ts";
import { AUTH_TEST_PROMPT } from "../cli/auth.ts";
import { pauseProvider } from "../providers/pause.ts";
import { workerKey } from "../redis/keys.ts";
import { baseEnv, pprCommand, runPpr, startSupervisor, type Supervisor } from "../testing/ppr.ts";
import { findRealClaudeCli, realClaudeCliMissing } from "../testing/real_claude.ts";
import { breakJobData, failedJobs } from "../testing/jobs.ts";
import { startRedis } from "../testing/redis.ts";
import { startStubAnthropic } from "../testing/stub_anthropic.ts";
import { waitUntil } from "../testing/wait.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

const cli = await findRealClaudeCli();
if (!cli) {
  reportSkipped(`the real Claude CLI is not available (${realClaudeCliMissing})`);
}

/** Whether the program's permission set (`ppr` in deno.json) lets it read any file. */
const canReadFiles = (manifest.permissions.ppr as { read?: unknown }).read === true;
if (!canReadFiles) {
  console.log(
    "operator_test: the 'ppr' permission set has no read access; enqueue reads no files " +
      "(--data @file, --format file), so only its refusal is tested",
  );
}

/** Runs `args` with the environment of the tests, pointed at `redisUrl`. */
function ppr(args: string[], redisUrl: string, env: Record<string, string> = {}) {
  return runPpr(args, baseEnv({ REDIS_URL: redisUrl, ...env }));
}

/** Runs `args`, expects exit 0 and JSON on stdout, and returns it parsed. */
async function pprJson<T = Record<string, unknown>>(
  args: string[],
  redisUrl: string,
  env: Record<string, string> = {},
): Promise<T> {
  const { code, stdout, stderr } = await ppr(args, redisUrl, env);
  assert.equal(code, 0, `${args.join(" ")}: ${stderr}`);
  return JSON.parse(stdout) as T;
}

const alive = (supervisor: Supervisor, count: number) =>
  supervisor.waitForHealth((health) => health.workers_alive === count, `${count} workers alive`);

/** A redis-server, a supervisor of one echo worker (alive), a `Queue` on `llm`; all stopped at the end. */
async function poolOfOne() {
  const redis = await startRedis();
  const supervisor = startSupervisor(["--count", "1"], { redisUrl: redis.url });
  const queue = new Queue("llm", { connection: redis.client() });
  queue.on("error", () => {});
  return {
    redis,
    queue,
    ready: () => alive(supervisor, 1),
    async [Symbol.asyncDispose]() {
      await queue.close();
      await supervisor[Symbol.asyncDispose]();
      await redis[Symbol.asyncDispose]();
    },
  };
}

async function stateOf(queue: Queue, id: string): Promise<string> {
  return await (await queue.getJob(id))!.getState();
}

interface InfoJson {
  queues: {
    name: string;
    paused: boolean;
    counts: Record<string, number>;
  }[];
  workers: {
    name: string;
    hostname: string | null;
    pid: number | null;
    state: string;
    current_jobs: { queue: string; id: string }[];
    heartbeat_age_s: number | null;
    registered: boolean;
  }[];
}

Deno.test("every operator command's --help exits 0 and lists its flags and exit statuses; batches cancel's says what a cancel does to the jobs; enqueue's default timeout reads 10m", async () => {
  const commands: [string[], string[]][] = [
    [["info"], ["--queue", "--interval", "--json", "--redis-url", "--prefix"]],
    [["jobs", "show"], ["<id>", "--queue", "--full", "--json", "--redis-url"]],
    [["jobs", "list"], ["--state", "--limit", "--queue", "--full", "--json"]],
    [["batches"], ["--limit", "--json", "--redis-url", "cancel [options] <id>"]],
    [["batches", "cancel"], ["<id>", "--unrecorded", "--provider", "--json", "--redis-url"]],
    [["requeue"], ["--failed", "--id", "--all", "--queue", "--json"]],
    [["cleanup"], ["--dry-run", "--json", "--redis-url", "--prefix"]],
    [["auth", "status"], ["--provider", "--json"]],
    [["auth", "test"], ["--yes", "--provider", "--json"]],
    [["auth", "login"], ["--token"]],
    [["config"], ["--check", "--json", "REDIS_URL"]],
    [["pause"], ["--queue", "--redis-url"]],
    [["resume"], ["--queue", "--redis-url"]],
    [[
      "enqueue",
    ], ["--data", "--format", "--metadata", "--attempts", "--priority", "--delay", "--wait"]],
  ];
  await Promise.all(commands.map(async ([command, flags]) => {
    const { code, stdout } = await runPpr([...command, "--help"]);
    const name = command.join(" ");
    assert.equal(code, 0, name);
    assert.match(stdout, new RegExp(`Usage: ppr-worker ${name}`), name);
    for (const flag of flags) assert.ok(stdout.includes(flag), `${name} --help lists ${flag}`);
    assert.match(stdout, /Exit status/, `${name} --help gives the exit statuses`);
  }));
  const enqueueHelp = await runPpr(["enqueue", "--help"]);
  assert.match(
    enqueueHelp.stdout.replace(/\s+/g, " "),
    /--timeout <duration> how long --wait waits for each job \(default: 10m\)/,
    "enqueue --help shows its default as a duration, not as milliseconds a user would take for seconds",
  );
  const cancelHelp = await runPpr(["batches", "cancel", "--help"]);
  assert.match(
    cancelHelp.stdout.replace(/\s+/g, " "),
    /each request that had not run ends canceled, and its job is retried by its retry policy/,
    "batches cancel --help says what it does to the jobs",
  );
  const root = await runPpr(["--help"]);
  for (
    const command of [
      "info",
      "jobs",
      "batches",
      "requeue",
      "cleanup",
      "auth",
      "config",
      "pause",
      "resume",
    ]
  ) {
    assert.match(root.stdout, new RegExp(`\\n  ${command}\\b`), `--help lists ${command}`);
  }
});

Deno.test(
  "info shows the workers of two supervisors with different hostnames, the jobs each holds, and the queue counts",
  integration,
  async () => {
    await using redis = await startRedis();
    await using alpha = startSupervisor(["--count", "2", "--hostname", "alpha"], {
      redisUrl: redis.url,
    });
    await using beta = startSupervisor(["--count", "1", "--hostname", "beta"], {
      redisUrl: redis.url,
    });
    await Promise.all([alive(alpha, 2), alive(beta, 1)]);
    const queue = new Queue("llm", { connection: redis.client() });
    try {
      const quick = await queue.add("llm", { prompt: "quick", provider: { name: "echo" } });
      await waitUntil(async () => (await quick.getState()) === "completed", {
        what: "the quick job to complete",
      });
      const invalid = await queue.add("llm", { prompt: 42 });
      await waitUntil(async () => (await invalid.getState()) === "failed", {
        what: "the invalid job to fail",
      });
      const slow = await Promise.all(
        [1, 2, 3].map((n) =>
          queue.add("llm", { prompt: `slow ${n}`, provider: { name: "echo", latency_ms: 600_000 } })
        ),
      );
      await waitUntil(async () => (await queue.getJobCounts("active")).active === 3, {
        what: "3 slow jobs active, one per worker",
      });
      await queue.add("llm", { prompt: "waits" });
      await queue.add("llm", { prompt: "waits first" }, { priority: 1 });
      await queue.add("llm", { prompt: "later" }, { delay: 3_600_000 });

      const info = await pprJson<InfoJson>(["info", "--json"], redis.url);
      assert.deepEqual(info.queues, [{
        name: "llm",
        paused: false,
        counts: { waiting: 1, prioritized: 1, active: 3, delayed: 1, completed: 1, failed: 1 },
      }]);
      assert.deepEqual(info.workers.map((worker) => [worker.name, worker.hostname]), [
        ["worker-alpha-1", "alpha"],
        ["worker-alpha-2", "alpha"],
        ["worker-beta-1", "beta"],
      ]);
      for (const worker of info.workers) {
        assert.equal(worker.registered, true, worker.name);
        assert.equal(typeof worker.pid, "number", worker.name);
        assert.equal(worker.state, "busy", worker.name);
        assert.equal(worker.current_jobs.length, 1, worker.name);
        assert.ok(worker.heartbeat_age_s !== null && worker.heartbeat_age_s >= 0, worker.name);
      }
      assert.deepEqual(
        info.workers.flatMap((worker) => worker.current_jobs.map((job) => job.id)).sort(),
        slow.map((job) => job.id!).sort(),
      );

      const text = await ppr(["info"], redis.url);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /llm\s+running\s+1\s+1\s+3\s+1\s+1\s+1/);
      assert.match(text.stdout, /3 workers on 2 hosts/);
      for (const job of slow) {
        const row =
          `^worker-(alpha|beta)-\\d\\s+(alpha|beta)\\s+\\d+\\s+llm\\s+busy\\s.*\\s${job.id}$`;
        assert.match(text.stdout, new RegExp(row, "m"), `a busy worker row holds job ${job.id}`);
      }
    } finally {
      await queue.close();
    }
  },
);

Deno.test(
  "info --interval repeats its report until SIGINT, then exits 0",
  integration,
  async () => {
    await using redis = await startRedis();
    const { command, args } = pprCommand(["info", "--interval", "200ms"]);
    const child = new Deno.Command(command, {
      args,
      env: baseEnv({ REDIS_URL: redis.url }),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const lines: string[] = [];
    const reading = forEachLine(child.stdout, (line) => lines.push(line));
    try {
      await waitUntil(() => lines.filter((line) => line.startsWith("Redis ")).length >= 2, {
        what: "two reports",
      });
      child.kill("SIGINT");
      const status = await waitUntil(() => Promise.race([child.status, undefined]), {
        what: "info to exit after SIGINT",
        timeoutMs: 10_000,
      });
      assert.equal(status.code, 0);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // exited
      }
      await child.status;
      await reading;
    }
  },
);

Deno.test(
  "jobs show: a failed job's error and stack, a completed job's result, long strings shortened unless --full; unknown id is exit 1",
  integration,
  async () => {
    await using pool = await poolOfOne();
    const { redis, queue } = pool;
    await pool.ready();
    const long = "word ".repeat(400);
    const failed = await queue.add("llm", { prompt: 42 }, { attempts: 3 });
    const completed = await queue.add("llm", { prompt: long });
    await waitUntil(
      async () =>
        (await failed.getState()) === "failed" && (await completed.getState()) === "completed",
      { what: "one job failed and one completed" },
    );

    const shownFailed = await pprJson(["jobs", "show", failed.id!, "--json"], redis.url);
    assert.equal(shownFailed.state, "failed");
    assert.equal(shownFailed.attemptsMade, 1);
    assert.equal(shownFailed.attempts, 3);
    assert.match(String(shownFailed.failedReason), /invalid job data: prompt/);
    assert.ok((shownFailed.stacktrace as string[]).length > 0, "the stack is shown");
    assert.equal(shownFailed.processedBy, "worker-test-1");

    const short = await pprJson(["jobs", "show", completed.id!, "--json"], redis.url);
    assert.equal(short.state, "completed");
    assert.match((short.data as { prompt: string }).prompt, /… \(\d+ more characters\)$/);
    assert.match((short.returnvalue as { text: string }).text, /… \(\d+ more characters\)$/);
    const full = await pprJson(["jobs", "show", completed.id!, "--json", "--full"], redis.url);
    assert.equal((full.data as { prompt: string }).prompt, long);

    const text = await ppr(["jobs", "show", failed.id!], redis.url);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /state\s+failed/);
    assert.match(text.stdout, /error:\n\s+invalid job data/);
    assert.match(text.stdout, /stack \(last try first\):\n\s+\S*Error/);

    const missing = await ppr(["jobs", "show", "999"], redis.url);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no job 999 in queue llm/);
  },
);

Deno.test(
  "jobs list --state lists only the jobs in that state, newest first, at most --limit",
  integration,
  async () => {
    await using pool = await poolOfOne();
    const { redis, queue } = pool;
    await pool.ready();
    const failed = await Promise.all([1, 2, 3].map((n) => queue.add("llm", { prompt: n })));
    const completed = await queue.add("llm", { prompt: "fine" });
    await waitUntil(
      async () =>
        (await queue.getJobCounts("failed", "completed")).failed === 3 &&
        (await completed.getState()) === "completed",
      { what: "3 failed jobs and 1 completed" },
    );
    const list = async (args: string[]) => {
      const { code, stdout, stderr } = await ppr(["jobs", "list", ...args, "--json"], redis.url);
      assert.equal(code, 0, stderr);
      return stdout.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));
    };
    const failedListed = await list(["--state", "failed"]);
    assert.deepEqual(
      failedListed.map((job) => job.id).sort(),
      failed.map((job) => job.id).sort(),
    );
    assert.ok(failedListed.every((job) => job.state === "failed"));
    assert.deepEqual((await list(["--state", "completed"])).map((job) => job.id), [completed.id]);
    assert.equal((await list(["--state", "failed", "--limit", "2"])).length, 2);
    assert.deepEqual(await list(["--state", "waiting"]), []);

    const table = await ppr(["jobs", "list", "--state", "failed"], redis.url);
    assert.match(table.stdout, /^id\s+queue\s+state\s+attempts/);
    assert.match(table.stdout, /failed\s+1\/1\s+.*invalid job data/);

    const wrong = await ppr(["jobs", "list", "--state", "broken"], redis.url);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /Allowed choices are waiting, prioritized, active, delayed/);
  },
);

Deno.test(
  "requeue: a failed job goes back to waiting with its attempts reset and then completes; completed and waiting jobs are left as they are",
  integration,
  async () => {
    await using redis = await startRedis();
    const queue = new Queue("llm", { connection: redis.client() });
    // The provider was down: a worker of the test's own fails what asks for it, twice.
    const failing = new Worker("llm", (job: Job) => {
      if (job.data.prompt === "provider down") return Promise.reject(new Error("provider down"));
      return Promise.resolve({ text: "done" });
    }, { connection: redis.client() });
    try {
      const failed = await queue.add("llm", { prompt: "provider down" }, { attempts: 2 });
      const completed = await queue.add("llm", { prompt: "fine" });
      await waitUntil(
        async () =>
          (await failed.getState()) === "failed" && (await completed.getState()) === "completed",
        { what: "one job failed after 2 attempts, one completed" },
      );
      await failing.close();
      assert.equal((await queue.getJob(failed.id!))!.attemptsMade, 2);
      const waiting = await queue.add("llm", { prompt: "not yet" });

      const { code, stdout, stderr } = await ppr(
        ["requeue", "--failed", "--id", failed.id!, completed.id!, waiting.id!, "999"],
        redis.url,
      );
      assert.equal(code, 1, "some ids asked for were not requeued");
      assert.equal(stderr, "");
      assert.match(stdout, /^requeued 1 failed job of llm \(attempts reset\)/);
      assert.match(
        stdout,
        new RegExp(`llm ${completed.id}: not failed \\(completed\\), left as it is`),
      );
      assert.match(
        stdout,
        new RegExp(`llm ${waiting.id}: not failed \\(waiting\\), left as it is`),
      );
      assert.match(stdout, /999: not found/);

      const requeued = (await queue.getJob(failed.id!))!;
      assert.equal(await requeued.getState(), "waiting");
      assert.equal(requeued.attemptsMade, 0);
      assert.equal(requeued.failedReason, undefined);
      const untouched = (await queue.getJob(completed.id!))!;
      assert.equal(await untouched.getState(), "completed");
      assert.deepEqual(untouched.returnvalue, { text: "done" });
      assert.equal(await stateOf(queue, waiting.id!), "waiting");

      await using supervisor = startSupervisor(["--count", "1"], { redisUrl: redis.url });
      await waitUntil(async () => (await stateOf(queue, failed.id!)) === "completed", {
        what: "the requeued job to complete",
      });
      const done = (await queue.getJob(failed.id!))!;
      assert.equal(done.attemptsMade, 1, "one attempt since the requeue");
      assert.equal(done.returnvalue.text, "provider down");
      void supervisor;
    } finally {
      await failing.close();
      await queue.close();
    }
  },
);

Deno.test(
  "requeue --failed --all moves every failed job and says how many; without --failed, or without --id and --all, it refuses with exit 2",
  integration,
  async () => {
    await using pool = await poolOfOne();
    const { redis, queue } = pool;
    await pool.ready();
    await queue.add("llm", { prompt: 1 });
    await queue.add("llm", { prompt: 2 });
    await waitUntil(async () => (await queue.getJobCounts("failed")).failed === 2, {
      what: "2 failed jobs",
    });
    for (const args of [["requeue", "--all"], ["requeue", "--failed"]]) {
      const refused = await ppr(args, redis.url);
      assert.equal(refused.code, 2, args.join(" "));
      assert.match(refused.stderr, /--failed|--id ID \.\.\. or --all/);
    }
    assert.equal((await queue.getJobCounts("failed")).failed, 2, "nothing moved when refused");

    const report = await pprJson<{ requeued: { id: string }[] }>(
      ["requeue", "--failed", "--all", "--json"],
      redis.url,
    );
    assert.equal(report.requeued.length, 2);
    // The invalid jobs fail again at once: each was requeued once, not in a loop.
    await waitUntil(async () => (await queue.getJobCounts("failed")).failed === 2, {
      what: "the 2 jobs to fail again",
    });
    const text = await ppr(["requeue", "--failed", "--all"], redis.url);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^requeued 2 failed jobs of llm \(attempts reset\)$/m);
  },
);

Deno.test(
  "cleanup removes a planted stale registration (no TTL, old heartbeat) and never a live worker's or a fresh one's",
  integration,
  async () => {
    await using redis = await startRedis();
    await using supervisor = startSupervisor(["--count", "2", "--hostname", "live"], {
      redisUrl: redis.url,
    });
    await alive(supervisor, 2);
    const client = redis.client();
    await waitUntil(async () => (await client.exists(workerKey("worker-live-2"))) === 1, {
      what: "the live workers' registrations",
    });
    const plant = (name: string, heartbeatAgoMs: number) =>
      JSON.stringify({
        name,
        hostname: name.split("-")[1],
        pid: 999_999,
        queues: ["llm"],
        started_at: new Date(Date.now() - 86_400_000).toISOString(),
        heartbeat_at: new Date(Date.now() - heartbeatAgoMs).toISOString(),
        active_jobs: 0,
        processed: 0,
        failed: 0,
      });
    await client.set(workerKey("worker-gone-1"), plant("worker-gone-1", 3_600_000));
    await client.set(workerKey("worker-fresh-1"), plant("worker-fresh-1", 0));
    // A live worker on a machine whose clock is an hour behind: its key has a TTL.
    await client.set(workerKey("worker-skewed-1"), plant("worker-skewed-1", 3_600_000), "EX", 60);

    type Report = { removed: { name: string }[]; kept: { name: string }[] };
    const names = (list: { name: string }[]) => list.map((entry) => entry.name).sort();
    const dry = await pprJson<Report>(["cleanup", "--dry-run", "--json"], redis.url);
    assert.deepEqual(names(dry.removed), ["worker-gone-1"]);
    assert.equal(await client.exists(workerKey("worker-gone-1")), 1, "--dry-run removes nothing");

    const done = await pprJson<Report>(["cleanup", "--json"], redis.url);
    assert.deepEqual(names(done.removed), ["worker-gone-1"]);
    assert.deepEqual(names(done.kept), [
      "worker-fresh-1",
      "worker-live-1",
      "worker-live-2",
      "worker-skewed-1",
    ]);
    assert.equal(await client.exists(workerKey("worker-gone-1")), 0);
    for (const name of ["worker-live-1", "worker-live-2", "worker-fresh-1", "worker-skewed-1"]) {
      assert.equal(await client.exists(workerKey(name)), 1, `${name} is kept`);
    }

    const again = await ppr(["cleanup"], redis.url);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^removed 0 stale registrations\nkept 4 registrations/);
  },
);

Deno.test(
  "config shows each value's source and never prints a secret; --check exits 0 when valid and 2 with the pool's own message",
  async () => {
    const secrets = {
      REDIS_URL: "redis://:topsecret-pw@127.0.0.1:6379/0",
      ANTHROPIC_API_KEY: "sk-ant-api-secret-0123456789",
      OPENAI_API_KEY: "sk-openai-secret-0123456789",
    };
    const env = baseEnv({ ...secrets, WORKER_CONCURRENCY: "3" });
    const noSecret = (output: string) => {
      for (const secret of ["topsecret-pw", "sk-ant-api-secret", "sk-openai-secret"]) {
        assert.ok(!output.includes(secret), `${secret} is printed`);
      }
    };

    const text = await runPpr(["config", "--count", "4"], env);
    assert.equal(text.code, 0, text.stderr);
    noSecret(text.stdout + text.stderr);
    assert.match(text.stdout, /WORKER_COUNT\s+"4"\s+flag --count/);
    assert.match(text.stdout, /WORKER_CONCURRENCY\s+"3"\s+environment/);
    assert.match(text.stdout, /REDIS_URL\s+redis:\/\/:\*\*\*@127\.0\.0\.1:6379\/0\s+environment/);
    assert.match(text.stdout, /ANTHROPIC_API_KEY\s+\(hidden\)\s+environment/);
    assert.match(text.stdout, /DRAIN_TIMEOUT\s+"30s"\s+default/);

    const json = await runPpr(["config", "--json"], env);
    assert.equal(json.code, 0, json.stderr);
    noSecret(json.stdout);
    const report = JSON.parse(json.stdout);
    assert.deepEqual(report.problems, []);
    assert.equal(
      report.settings.find((row: { env: string }) => row.env === "OPENAI_API_KEY").value,
      "(hidden)",
    );

    const valid = await runPpr(["config", "--check"], env);
    assert.equal(valid.code, 0, valid.stderr);

    const invalidEnv = baseEnv({
      ...secrets,
      REDIS_URL: "redis://:topsecret-pw@",
      WORKER_COUNT: "21",
    });
    const check = await runPpr(["config", "--check"], invalidEnv);
    const pool = await runPpr([], invalidEnv);
    assert.equal(check.code, 2);
    assert.equal(pool.code, 2);
    assert.equal(check.stderr, pool.stderr);
    assert.match(check.stderr, /WORKER_COUNT \(--count\) = "21": must be an integer from 1 to 20/);
    noSecret(check.stdout + check.stderr);

    const shown = await runPpr(["config"], invalidEnv);
    assert.equal(shown.code, 2);
    assert.match(shown.stdout, /WORKER_COUNT\s+"21"\s+environment/);
    noSecret(shown.stdout + shown.stderr);
  },
);

Deno.test(
  "config names the env file as the source of the values it set, over the environment's, and the environment as the source of the rest",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "ppr-config-" });
    try {
      const envFile = `${dir}/pool.env`;
      await Deno.writeTextFile(
        envFile,
        "WORKER_CONCURRENCY=5\nANTHROPIC_API_KEY=sk-ant-api-from-file-0123456789\n",
      );
      const env = baseEnv({ WORKER_CONCURRENCY: "3", DRAIN_TIMEOUT: "45s" });
      const text = await runPpr(["config", "--env-file", envFile], env);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /WORKER_CONCURRENCY\s+"5"\s+env file/);
      assert.match(text.stdout, /ANTHROPIC_API_KEY\s+\(hidden\)\s+env file/);
      assert.match(text.stdout, /DRAIN_TIMEOUT\s+"45s"\s+environment/);
      assert.match(text.stdout, /ENV_FILE\s+".*pool\.env"\s+flag --env-file/);
      assert.ok(!text.stdout.includes("sk-ant-api-from-file"), "the file's key is not printed");
      const json = JSON.parse(
        (await runPpr(["config", "--json", "--env-file", envFile], env)).stdout,
      );
      const sourceOf = (name: string) =>
        json.settings.find((row: { env: string }) => row.env === name).source;
      assert.equal(sourceOf("WORKER_CONCURRENCY"), "env file");
      assert.equal(sourceOf("DRAIN_TIMEOUT"), "environment");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "pause and resume: info shows the queue paused, a job added meanwhile completes after resume; pause needs --queue",
  integration,
  async () => {
    await using pool = await poolOfOne();
    const { redis, queue } = pool;
    await pool.ready();
    const missing = await ppr(["pause"], redis.url);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /required option '-q, --queue <names>'/);

    const paused = await ppr(["pause", "--queue", "llm"], redis.url);
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stdout, /llm: paused/);
    assert.equal(await queue.isPaused(), true);
    const job = await queue.add("llm", { prompt: "after the pause" });
    const info = await pprJson<InfoJson>(["info", "--json"], redis.url);
    assert.equal(info.queues[0].paused, true);
    assert.equal(info.queues[0].counts.waiting, 1);
    assert.match((await ppr(["info"], redis.url)).stdout, /llm\s+paused\s+1/);

    const resumed = await ppr(["resume", "--queue", "llm"], redis.url);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /llm: resumed/);
    await waitUntil(async () => (await job.getState()) === "completed", {
      what: "the job added while paused to complete after resume",
    });
    const after = await pprJson<InfoJson>(["info", "--json"], redis.url);
    assert.equal(after.queues[0].paused, false);
  },
);

Deno.test(
  "auth status with the real Claude CLI: logged out is exit 1, a token is exit 0, a shared pause in Redis is exit 1",
  { ignore: cli === undefined, ...integration },
  async () => {
    await using redis = await startRedis();
    const home = await Deno.makeTempDir({ prefix: "ppr-auth-home-" });
    try {
      const env = { LLM_PROVIDER: "claude", CLAUDE_CLI: cli!.path, HOME: home };
      const loggedOut = await ppr(["auth", "status"], redis.url, env);
      assert.equal(loggedOut.code, 1, loggedOut.stderr);
      assert.match(loggedOut.stdout, /login\s+Claude CLI: not logged in/);
      assert.match(loggedOut.stdout, new RegExp(`login at\\s+${home}/\\.claude`));
      assert.match(loggedOut.stdout, /usable\s+no \(run 'ppr-worker auth login'/);

      const withToken = { ...env, CLAUDE_CODE_OAUTH_TOKEN: "test-oauth-token" };
      const loggedIn = await ppr(["auth", "status", "--json"], redis.url, withToken);
      assert.equal(loggedIn.code, 0, loggedIn.stderr);
      const status = JSON.parse(loggedIn.stdout);
      assert.deepEqual(status.login, { ok: true, detail: "Claude CLI: logged in (oauth_token)" });
      assert.equal(status.pause, null);
      assert.equal(status.usable, true);
      assert.ok(!loggedIn.stdout.includes("test-oauth-token"));

      await pauseProvider(redis.client(), "claude", "auth_failed", "401 from a job");
      const paused = await ppr(["auth", "status", "--json"], redis.url, withToken);
      assert.equal(paused.code, 1);
      const pausedStatus = JSON.parse(paused.stdout);
      assert.equal(pausedStatus.pause.state, "auth_failed");
      assert.equal(pausedStatus.pause.reason, "401 from a job");
      assert.equal(pausedStatus.usable, false);
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
);

Deno.test(
  "auth test without --yes and without a terminal refuses with exit 2 and sends nothing",
  integration,
  async () => {
    await using stub = startStubAnthropic();
    const { code, stderr } = await runPpr(
      ["auth", "test"],
      baseEnv({
        LLM_PROVIDER: "claude",
        CLAUDE_CLI_MODE: "cold",
        ANTHROPIC_BASE_URL: stub.url,
        CLAUDE_CODE_OAUTH_TOKEN: "test-oauth-token",
      }),
    );
    assert.equal(code, 2);
    assert.match(stderr, /sends one real request to Claude CLI/);
    assert.match(stderr, /refusing to spend tokens without --yes/);
    assert.equal(stub.requests.length, 0);
  },
);

Deno.test(
  "auth test --yes makes one request through the real Claude CLI to a stub API and says what came back; a 401 is exit 1, class auth",
  { ignore: cli === undefined, ...integration },
  async () => {
    await using stub = startStubAnthropic();
    const home = await Deno.makeTempDir({ prefix: "ppr-auth-home-" });
    try {
      const env = baseEnv({
        LLM_PROVIDER: "claude",
        CLAUDE_CLI: cli!.path,
        CLAUDE_CLI_MODE: "cold",
        ANTHROPIC_BASE_URL: stub.url,
        CLAUDE_CODE_OAUTH_TOKEN: "test-oauth-token",
        HOME: home,
      });
      const ok = await runPpr(["auth", "test", "--yes"], env);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /^ok: claude answered "stub: Reply with the single word: ok"/);
      assert.equal(stub.jobRequests().length, 1);
      assert.match(stub.lastUserText(stub.jobRequests()[0]), new RegExp(AUTH_TEST_PROMPT));

      stub.setMode({ error: 401 });
      const refused = await runPpr(["auth", "test", "--yes", "--json"], env);
      assert.equal(refused.code, 1);
      const outcome = JSON.parse(refused.stdout);
      assert.equal(outcome.ok, false);
      assert.equal(outcome.kind, "auth");
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
);

Deno.test("auth login without a terminal exits 2 and says how to log in inside the container", async () => {
  const { code, stderr } = await runPpr(["auth", "login"]);
  assert.equal(code, 2);
  assert.match(stderr, /needs a terminal/);
  assert.match(stderr, /docker compose exec -it worker \/app\/ppr-worker auth login/);
  assert.match(stderr, /CLAUDE_CODE_OAUTH_TOKEN/);
});

Deno.test(
  "enqueue --data - reads the job from stdin; inline --format, repeated --metadata, --attempts, --priority and --delay land in the job",
  integration,
  async () => {
    await using redis = await startRedis();
    const schema = { type: "object", required: ["name"], properties: { name: { type: "string" } } };
    const { code, stdout, stderr } = await runPpr(
      [
        "enqueue",
        "--data",
        "-",
        "--format",
        JSON.stringify(schema),
        "--metadata",
        "scraper_id=food_bank_x",
        "--metadata",
        "content_hash=ab=12",
        "--attempts",
        "4",
        "--priority",
        "5",
        "--delay",
        "1h",
      ],
      baseEnv({ REDIS_URL: redis.url }),
      60_000,
      JSON.stringify({ prompt: "Extract the organisation.", metadata: { page: "3" } }),
    );
    assert.equal(code, 0, stderr);
    const id = stdout.trim();
    const queue = new Queue("llm", { connection: redis.client() });
    try {
      const job = (await queue.getJob(id))!;
      assert.deepEqual(job.data, {
        prompt: "Extract the organisation.",
        metadata: { page: "3", scraper_id: "food_bank_x", content_hash: "ab=12" },
        format: schema,
      });
      assert.equal(job.opts.attempts, 4);
      assert.equal(job.opts.priority, 5);
      assert.equal(job.opts.delay, 3_600_000);
      assert.equal(await job.getState(), "delayed");
    } finally {
      await queue.close();
    }

    const unusable = await runPpr(
      ["enqueue", "--prompt", "x", "--format", '{"type":"nonsense"}'],
      baseEnv({ REDIS_URL: redis.url }),
    );
    assert.equal(unusable.code, 2);
    assert.match(unusable.stderr, /format: the schema cannot be used/);
  },
);

Deno.test(
  "enqueue --data @file and --format file.json put the files' JSON in the job",
  { ignore: !canReadFiles, ...integration },
  async () => {
    await using redis = await startRedis();
    const dir = await Deno.makeTempDir({ prefix: "ppr-enqueue-" });
    try {
      const schema = { type: "object", properties: { name: { type: "string" } } };
      await Deno.writeTextFile(`${dir}/job.json`, JSON.stringify({ prompt: "from a file" }));
      await Deno.writeTextFile(`${dir}/schema.json`, JSON.stringify(schema));
      const { code, stdout, stderr } = await ppr(
        ["enqueue", "--data", `@${dir}/job.json`, "--format", `${dir}/schema.json`],
        redis.url,
      );
      assert.equal(code, 0, stderr);
      const queue = new Queue("llm", { connection: redis.client() });
      try {
        const job = (await queue.getJob(stdout.trim()))!;
        assert.deepEqual(job.data, { prompt: "from a file", format: schema });
      } finally {
        await queue.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "enqueue --data @file without read permission exits 2 and says to pass the JSON on stdin",
  { ignore: canReadFiles },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "ppr-enqueue-" });
    try {
      await Deno.writeTextFile(`${dir}/job.json`, JSON.stringify({ prompt: "from a file" }));
      const { code, stderr } = await runPpr(
        ["enqueue", "--data", `@${dir}/job.json`],
        baseEnv({ REDIS_URL: "redis://127.0.0.1:1" }),
      );
      assert.equal(code, 2);
      assert.match(stderr, /--data: cannot read .*job\.json: .*no read permission/);
      assert.match(stderr, /--data - < .*job\.json/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "enqueue --wait shows its progress line on a terminal's stderr, never in the JSON lines on stdout",
  { ignore: !(await hasScript()), ...integration },
  async () => {
    await using redis = await startRedis();
    await using supervisor = startSupervisor(["--count", "1"], { redisUrl: redis.url });
    await alive(supervisor, 1);
    const dir = await Deno.makeTempDir({ prefix: "ppr-progress-" });
    try {
      const { command, args } = pprCommand([
        "enqueue",
        "--prompt",
        "hello",
        "--provider",
        "echo",
        "--count",
        "3",
        "--wait",
      ]);
      const quoted = [command, ...args].map((word) => `'${word.replaceAll("'", `'\\''`)}'`);
      // `script` gives the command a terminal; its stdout goes to a file, its stderr to the terminal.
      const output = await new Deno.Command("script", {
        args: ["-qec", `${quoted.join(" ")} > ${dir}/stdout.jsonl`, "/dev/null"],
        env: baseEnv({ REDIS_URL: redis.url }),
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(60_000),
      }).output();
      const terminal = new TextDecoder().decode(output.stdout);
      assert.equal(output.code, 0, terminal);
      assert.match(terminal, /3\/3 done, 0 failed, [\d.]+ jobs\/s, finished/);
      const lines = (await Deno.readTextFile(`${dir}/stdout.jsonl`)).trim().split("\n");
      assert.equal(lines.length, 3);
      for (const line of lines) assert.equal(JSON.parse(line).state, "completed");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/** Whether util-linux's `script` (which gives a command a terminal) is installed. */
async function hasScript(): Promise<boolean> {
  try {
    return (await new Deno.Command("script", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output()).success;
  } catch {
    return false;
  }
}

Deno.test(
  "operator commands look at any queue named by --queue, even one no processor serves (a results queue)",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    await using redis = await startRedis();
    const results = new Queue("results", { connection: redis.client() });
    results.on("error", () => {});
    try {
      await results.add("llm-result", { job_id: "1" });
      const info = await runPpr(
        ["info", "--queue", "results", "--json"],
        baseEnv({
          REDIS_URL: redis.url,
        }),
      );
      assert.equal(info.code, 0, info.stderr);
      assert.match(info.stdout, /"results"/);
      const list = await runPpr(
        ["jobs", "list", "--state", "waiting", "--queue", "results", "--json"],
        baseEnv({ REDIS_URL: redis.url }),
      );
      assert.equal(list.code, 0, list.stderr);
      const bad = await runPpr(["info", "--queue", "no spaces"], baseEnv({ REDIS_URL: redis.url }));
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--queue = "no spaces"/);
    } finally {
      await results.close();
    }
  },
);

Deno.test(
  "a failed job whose data is not JSON: jobs list, jobs show and requeue --failed --all show it as unreadable with its id and why, and handle the other jobs",
  integration,
  async () => {
    await using redis = await startRedis();
    const client = redis.client();
    const [good, bad] = await failedJobs(client, "llm", [{ prompt: "fine" }, {
      prompt: "soon bad",
    }]);
    await breakJobData(client, "llm", bad);

    const listed = await ppr(["jobs", "list", "--state", "failed", "--json"], redis.url);
    assert.equal(listed.code, 0, listed.stderr);
    const views = listed.stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(views.map((view) => view.id).sort(), [good, bad].sort());
    const unreadable = views.find((view) => view.id === bad);
    assert.match(String(unreadable.unreadable), /job data is not valid JSON .*\{not json/);
    assert.equal(views.find((view) => view.id === good).unreadable, null);
    assert.deepEqual(views.find((view) => view.id === good).data, { prompt: "fine" });
    const table = await ppr(["jobs", "list", "--state", "failed"], redis.url);
    assert.equal(table.code, 0, table.stderr);
    assert.match(
      table.stdout,
      new RegExp(`^${bad}\\s+llm\\s+failed\\s.*unreadable: job data is not valid JSON`, "m"),
    );

    const shown = await ppr(["jobs", "show", bad], redis.url);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`job ${bad} on queue llm`));
    assert.match(shown.stdout, /data:\n {2}unreadable: job data is not valid JSON/);
    const shownJson = await pprJson<{ unreadable: string; data: unknown }>(
      ["jobs", "show", bad, "--json"],
      redis.url,
    );
    assert.match(shownJson.unreadable, /job data is not valid JSON/);
    assert.equal(shownJson.data, null);

    const requeued = await ppr(["requeue", "--failed", "--all", "--json"], redis.url);
    assert.equal(requeued.code, 1, requeued.stderr);
    const report = JSON.parse(requeued.stdout);
    assert.deepEqual(report.requeued, [{ queue: "llm", id: good }]);
    assert.equal(report.unreadable.length, 1);
    assert.equal(report.unreadable[0].id, bad);
    assert.match(report.unreadable[0].error, /job data is not valid JSON/);
    const queue = new Queue("llm", { connection: client });
    try {
      assert.deepEqual(await queue.getRanges(["failed"], 0, -1), [bad]);
      assert.deepEqual(await queue.getRanges(["wait"], 0, -1), [good]);
    } finally {
      await queue.close();
    }
    const text = await ppr(["requeue", "--failed", "--id", bad], redis.url);
    assert.equal(text.code, 1);
    assert.match(
      text.stdout,
      new RegExp(`llm ${bad}: unreadable, not requeued: job data is not valid JSON`),
    );
  },
);
