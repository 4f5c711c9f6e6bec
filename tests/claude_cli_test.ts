/**
 * The real Claude CLI (`npm:@anthropic-ai/claude-code`, installed by .ci/run) run by ppr-worker
 * against the stub Messages API on 127.0.0.1, logged in with an OAuth token as a subscription
 * user is: every outcome, in cold and in warm mode. Skipped, with the reason printed, without it.
 */

import { reportSkipped } from "../testing/command.ts";
import { strict as assert } from "node:assert";
import { type Job, Queue } from "bullmq";
import { DEFAULT_SYSTEM_PROMPT } from "../providers/claude_cli/args.ts";
import { startRedis } from "../testing/redis.ts";
import { logRecords, startSupervisor, type Supervisor } from "../testing/ppr.ts";
import {
  startStubAnthropic,
  type StubAnthropic,
  type StubRequest,
} from "../testing/stub_anthropic.ts";
import { processExists, waitUntil } from "../testing/wait.ts";
import { claudeCliPids, findRealClaudeCli, realClaudeCliMissing } from "../testing/real_claude.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

const cli = await findRealClaudeCli();
if (!cli) {
  reportSkipped(`the real Claude CLI is not available (${realClaudeCliMissing})`);
} else console.log(`claude_cli_test: ${cli.version}`);
const ignore = cli === undefined;

type Mode = "cold" | "warm";
const MODES: Mode[] = ["cold", "warm"];

/** ppr-worker's environment for CLI mode against `stub`, logged in unless `loggedIn` is false. */
function cliEnv(
  stub: StubAnthropic,
  home: string,
  mode: Mode,
  extra: Record<string, string> = {},
  loggedIn = true,
): Record<string, string> {
  return {
    LLM_PROVIDER: "claude",
    CLAUDE_CLI: cli!.path,
    CLAUDE_CLI_MODE: mode,
    ANTHROPIC_BASE_URL: stub.url,
    HOME: home,
    ...(loggedIn ? { CLAUDE_CODE_OAUTH_TOKEN: "test-oauth-token" } : {}),
    LLM_PROBE_INTERVAL: "10m",
    ...extra,
  };
}

interface Setup extends AsyncDisposable {
  stub: StubAnthropic;
  queue: Queue;
  supervisor: Supervisor;
  redis: Awaited<ReturnType<typeof startRedis>>;
  home: string;
}

/** Redis, the stub, a HOME and a supervisor of one worker in CLI mode; all stopped at the end. */
async function setUp(
  mode: Mode,
  options: { env?: Record<string, string>; loggedIn?: boolean; cwd?: string; args?: string[] } = {},
): Promise<Setup> {
  const redis = await startRedis();
  const stub = startStubAnthropic();
  const home = await Deno.makeTempDir({ prefix: "ppr-real-claude-home-" });
  const queue = new Queue("llm", { connection: redis.client() });
  queue.on("error", () => {});
  const supervisor = startSupervisor(["--count", "1", ...options.args ?? []], {
    redisUrl: redis.url,
    env: cliEnv(stub, home, mode, options.env, options.loggedIn ?? true),
    cwd: options.cwd,
  });
  return {
    stub,
    queue,
    supervisor,
    redis,
    home,
    async [Symbol.asyncDispose]() {
      await supervisor[Symbol.asyncDispose]();
      // Whatever CLI the test left behind goes too (the tests check there is none).
      for (const pid of cliPids(stub)) Deno.kill(pid, "SIGKILL");
      await queue.close();
      await stub[Symbol.asyncDispose]();
      await redis[Symbol.asyncDispose]();
      await Deno.remove(home, { recursive: true }).catch(() => {});
    },
  };
}

/** Waits until `job` has completed or failed and returns it as it is then. */
async function finished(queue: Queue, job: Job, what: string, timeoutMs = 60_000): Promise<Job> {
  await waitUntil(async () => ["completed", "failed"].includes(await job.getState()), {
    what,
    timeoutMs,
  });
  return (await queue.getJob(job.id!))!;
}

/** The stub's job requests whose user text holds `marker`. */
function requestsOf(stub: StubAnthropic, marker: string): StubRequest[] {
  return stub.jobRequests().filter((request) => stub.lastUserText(request).includes(marker));
}

const cliPids = (stub: StubAnthropic) => claudeCliPids(stub.url);

const idle = (supervisor: Supervisor) =>
  supervisor.waitForHealth(
    (health) => health.workers.length === 1 && health.workers[0].state === "idle",
    "an idle worker",
  );

for (const mode of MODES) {
  Deno.test({
    name:
      `real CLI, ${mode}: a text job is one request to the stub, with no title request, and returns the job's own usage`,
    ignore,
    ...integration,
  }, async () => {
    await using setup = await setUp(mode);
    const { stub, queue, supervisor } = setup;
    await idle(supervisor);
    const first = await finished(queue, await queue.add("llm", { prompt: "hello one" }), "job 1");
    assert.equal(await first.getState(), "completed", first.failedReason);
    assert.equal(first.returnvalue.text, "stub: hello one");
    assert.equal(first.returnvalue.provider, "claude");
    assert.ok(first.returnvalue.usage.input_tokens > 0);
    const second = await finished(queue, await queue.add("llm", { prompt: "hello two" }), "job 2");
    assert.equal(second.returnvalue.text, "stub: hello two");
    // Each job's usage is its own, not a running total of a warm process.
    const ratio = second.returnvalue.usage.input_tokens / first.returnvalue.usage.input_tokens;
    assert.ok(ratio < 1.5, `job 2 input tokens ${second.returnvalue.usage.input_tokens}`);
    assert.equal(requestsOf(stub, "hello one").length, 1);
    assert.equal(requestsOf(stub, "hello two").length, 1);
    assert.equal(stub.messageRequests().filter((request) => request.kind !== "job").length, 0);
    assert.deepEqual(stub.otherRequests(), [], "no HEAD check, no other path");
  });

  Deno.test({
    name:
      `real CLI, ${mode}: structured output is parsed; a text answer and schema-violating tool input fail as transient, saying why`,
    ignore,
    ...integration,
  }, async () => {
    await using setup = await setUp(mode);
    const { queue, supervisor } = setup;
    await idle(supervisor);
    const schema = {
      type: "object",
      required: ["name", "n"],
      properties: { name: { type: "string" }, n: { type: "integer" } },
      additionalProperties: false,
    };
    const format = { type: "json_schema", json_schema: { name: "person", schema } };
    const good = await finished(
      queue,
      await queue.add("llm", { prompt: 'Extract JSON{"name":"Ada","n":3}', format }),
      "the structured job",
    );
    assert.equal(await good.getState(), "completed", good.failedReason);
    assert.deepEqual(good.returnvalue.parsed, { name: "Ada", n: 3 });
    const text = await finished(
      queue,
      await queue.add("llm", { prompt: "Describe Ada STUB_TEXT_INSTEAD", format }, { attempts: 2 }),
      "the text-instead job to fail",
    );
    assert.equal(await text.getState(), "failed");
    assert.match(
      text.failedReason,
      /^failed 2 times; try 1: Claude CLI: the model answered in text instead of the JSON/,
    );
    const bad = await finished(
      queue,
      await queue.add("llm", { prompt: "Describe Ada STUB_BAD_SCHEMA", format }, { attempts: 2 }),
      "the off-schema job to fail",
    );
    assert.equal(await bad.getState(), "failed");
    assert.match(bad.failedReason, /try 1: Claude CLI: the answer did not fit the JSON schema/);
  });

  Deno.test({
    name:
      `real CLI, ${mode}: 400 fails at once; 500 is retried by ppr-worker, one request per try (529 waits instead: tests/costly_errors_test.ts); a broken stream recovers`,
    ignore,
    ...integration,
  }, async () => {
    await using setup = await setUp(mode);
    const { stub, queue, supervisor } = setup;
    await idle(supervisor);
    const invalid = await finished(
      queue,
      await queue.add("llm", { prompt: "bad STUB_ERROR=400" }, { attempts: 3 }),
      "the 400 job",
    );
    assert.equal(await invalid.getState(), "failed");
    assert.equal(invalid.attemptsMade, 1);
    assert.match(invalid.failedReason, /HTTP 400/);
    for (const status of [500]) {
      const job = await finished(
        queue,
        await queue.add("llm", { prompt: `busy STUB_ERROR=${status}` }, { attempts: 2 }),
        `the ${status} job`,
      );
      assert.equal(await job.getState(), "failed");
      assert.match(
        job.failedReason,
        new RegExp(`^failed 2 times; try 1: Claude CLI \\(HTTP ${status}\\)`),
      );
      assert.equal(requestsOf(stub, `STUB_ERROR=${status}`).length, 2, "one request per try");
    }
    const broken = await finished(
      queue,
      await queue.add("llm", { prompt: "cut STUB_BROKEN_STREAM" }),
      "the broken-stream job",
    );
    assert.equal(await broken.getState(), "completed", broken.failedReason);
  });

  Deno.test({
    name:
      `real CLI, ${mode}: a 401 gives the job back untouched and pauses the provider after one call (the CLI's own two requests), no retry loop`,
    ignore,
    ...integration,
  }, async () => {
    await using setup = await setUp(mode);
    const { stub, queue, supervisor, redis } = setup;
    await supervisor.waitForHealth((health) => health.claude_authenticated === true, "logged in");
    const job = await queue.add("llm", { prompt: "expired STUB_ERROR=401" }, { attempts: 1 });
    const health = await supervisor.waitForHealth(
      (body) => body.llm.state === "auth_failed",
      "the 401 to pause the provider",
    );
    assert.equal(health.claude_authenticated, false);
    await waitUntil(async () => (await job.getState()) === "waiting", { what: "the job back" });
    const after = (await queue.getJob(job.id!))!;
    assert.equal(after.attemptsMade, 0);
    const pause = JSON.parse((await redis.client().get("ppr:llm:pause:claude"))!);
    assert.equal(pause.state, "auth_failed");
    assert.match(pause.reason, /HTTP 401.*Not logged in/);
    // With an OAuth login the CLI makes one more request on a 401 by itself; nothing more.
    assert.ok(requestsOf(stub, "STUB_ERROR=401").length <= 2);
  });

  Deno.test({
    name:
      `real CLI, ${mode}: a 403 pauses as auth; a usage limit pauses as quota until the reset the CLI reports`,
    ignore,
    ...integration,
  }, async () => {
    await using setup = await setUp(mode);
    const { queue, supervisor, redis } = setup;
    await idle(supervisor);
    const forbidden = await queue.add("llm", { prompt: "no STUB_ERROR=403" }, { attempts: 1 });
    await supervisor.waitForHealth((body) => body.llm.state === "auth_failed", "a 403 pause");
    await waitUntil(async () => (await forbidden.getState()) === "waiting", { what: "job back" });
    await forbidden.remove();
    await redis.client().del("ppr:llm:pause:claude");
    await supervisor.waitForHealth((body) => body.llm.state === "ok", "the pause lifted");
    const limited = await queue.add("llm", {
      prompt: "more STUB_ERROR=429 STUB_RETRY_AFTER=7200",
    }, { attempts: 1 });
    const paused = await supervisor.waitForHealth(
      (body) => body.llm.state === "quota_exceeded",
      "a quota pause",
    );
    // The CLI says when the limit resets (to the minute, or to the second in warm mode):
    // 2 h away, not the 1 h of a quota pause without a reset time.
    assert.ok(
      paused.llm.retry_in_seconds > 7000 && paused.llm.retry_in_seconds <= 7200,
      `retry in ${paused.llm.retry_in_seconds} s`,
    );
    await waitUntil(async () => (await limited.getState()) === "waiting", { what: "job back" });
    assert.equal((await queue.getJob(limited.id!))!.attemptsMade, 0);
  });

  Deno.test({
    name:
      `real CLI, ${mode}: the request holds the job, its system prompt or the default, and no CLAUDE.md from the working directory, its parents or the user's folder`,
    ignore,
    ...integration,
  }, async () => {
    // The supervisor runs in a folder with a CLAUDE.md, its TMPDIR (where the CLI's private
    // folder goes) has one, and so has the CLI's configuration folder: none may reach a job.
    const cwd = await Deno.makeTempDir({ prefix: "ppr-claude-md-cwd-" });
    const tmp = await Deno.makeTempDir({ prefix: "ppr-claude-md-tmp-" });
    try {
      await Deno.writeTextFile(`${cwd}/CLAUDE.md`, "MARKER_CWD_MEMORY always say banana\n");
      await Deno.mkdir(`${cwd}/.claude`);
      await Deno.writeTextFile(`${cwd}/.claude/CLAUDE.md`, "MARKER_CWD_DOT_CLAUDE\n");
      await Deno.writeTextFile(`${cwd}/AGENTS.md`, "MARKER_CWD_AGENTS\n");
      await Deno.writeTextFile(`${tmp}/CLAUDE.md`, "MARKER_PARENT_MEMORY\n");
      await using setup = await setUp(mode, { cwd, env: { TMPDIR: tmp } });
      const { stub, queue, supervisor, home } = setup;
      await Deno.mkdir(`${home}/.claude`, { recursive: true });
      await Deno.writeTextFile(`${home}/.claude/CLAUDE.md`, "MARKER_USER_MEMORY\n");
      await idle(supervisor);
      const plain = await finished(queue, await queue.add("llm", { prompt: "JOB_PLAIN" }), "job");
      assert.equal(await plain.getState(), "completed", plain.failedReason);
      const own = await finished(
        queue,
        await queue.add("llm", {
          prompt: [{ role: "system", content: "Answer in French." }, {
            role: "user",
            content: "JOB_WITH_SYSTEM",
          }],
        }),
        "the job with a system message",
      );
      assert.equal(await own.getState(), "completed", own.failedReason);
      const [plainRequest] = requestsOf(stub, "JOB_PLAIN");
      const [ownRequest] = requestsOf(stub, "JOB_WITH_SYSTEM");
      for (const request of [plainRequest, ownRequest]) {
        const all = stub.requestText(request);
        for (const marker of ["MARKER_CWD", "MARKER_PARENT", "MARKER_USER"]) {
          assert.ok(!all.includes(marker), `${marker} reached the request`);
        }
        // The CLI's fixed minimum (a billing header and one line) and ours: no agent prompt.
        assert.ok(stub.systemText(request).length < 400, stub.systemText(request));
      }
      assert.ok(stub.systemText(plainRequest).endsWith(DEFAULT_SYSTEM_PROMPT));
      assert.ok(stub.systemText(ownRequest).endsWith("Answer in French."));
    } finally {
      await Deno.remove(cwd, { recursive: true });
      await Deno.remove(tmp, { recursive: true });
    }
  });
}

Deno.test({
  name:
    "real CLI: the auth probe passes with an OAuth token, and without a login pauses the provider",
  ignore,
  ...integration,
}, async () => {
  {
    await using setup = await setUp("cold");
    const health = await setup.supervisor.waitForHealth(
      (body) => body.claude_authenticated !== null,
      "the probe",
    );
    assert.equal(health.claude_authenticated, true);
    assert.equal(health.llm.state, "ok");
  }
  await using setup = await setUp("cold", { loggedIn: false });
  const health = await setup.supervisor.waitForHealth(
    (body) => body.llm.state === "auth_failed",
    "the probe to pause the provider",
  );
  assert.equal(health.claude_authenticated, false);
  const pause = JSON.parse((await setup.redis.client().get("ppr:llm:pause:claude"))!);
  assert.match(pause.reason, /Claude CLI: not logged in/);
});

Deno.test({
  name:
    "real CLI: 4 workers, one auth probe at a time for the whole supervisor, each LLM_PROBE_INTERVAL after the last one ended",
  ignore,
  ...integration,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "ppr-probe-shim-" });
  try {
    // The real CLI behind a shim that notes when each `claude auth status` starts and ends.
    const log = `${dir}/calls.log`;
    const shim = `${dir}/claude`;
    await Deno.writeTextFile(
      shim,
      `#!/bin/sh
[ "$1" = auth ] && echo "start $(date +%s%N)" >> '${log}'
'${cli!.path}' "$@"; status=$?
[ "$1" = auth ] && echo "end $(date +%s%N)" >> '${log}'
exit $status
`,
    );
    await Deno.chmod(shim, 0o755);
    await using setup = await setUp("cold", {
      args: ["--count", "4"],
      env: { CLAUDE_CLI: shim, LLM_PROBE_INTERVAL: "1s" },
    });
    const job = await setup.queue.add("llm", { prompt: "a job between probes" });
    const lines = await waitUntil(async () => {
      const text = await Deno.readTextFile(log).catch(() => "");
      const lines = text.trim().split("\n").filter(Boolean);
      return lines.filter((line) => line.startsWith("end")).length >= 4 ? lines : undefined;
    }, { what: "4 auth probes", timeoutMs: 60_000 });
    assert.equal(await (await finished(setup.queue, job, "the job")).getState(), "completed");
    const events = lines.map((line) => {
      const [kind, ns] = line.split(" ");
      return { kind, ms: Number(BigInt(ns) / 1_000_000n) };
    });
    // start, end, start, end...: never two at once, not one per worker.
    events.forEach((event, index) => {
      assert.equal(event.kind, index % 2 === 0 ? "start" : "end", `event ${index}: ${lines}`);
    });
    for (let index = 2; index < events.length; index += 2) {
      const gap = events[index].ms - events[index - 1].ms;
      assert.ok(gap >= 1000, `probe ${index / 2 + 1} started ${gap} ms after the last one ended`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "real CLI, warm: one process serves job after job, and a job's request never holds another job's content",
  ignore,
  ...integration,
}, async () => {
  await using setup = await setUp("warm");
  const { stub, queue, supervisor } = setup;
  await idle(supervisor);
  const pids = new Set<number>();
  for (const marker of ["MARK_ALPHA", "MARK_BRAVO", "MARK_CHARLIE"]) {
    const job = await finished(queue, await queue.add("llm", { prompt: `job ${marker}` }), marker);
    assert.equal(await job.getState(), "completed", job.failedReason);
    for (const pid of cliPids(stub)) pids.add(pid);
  }
  assert.equal(pids.size, 1, `one warm process, saw ${[...pids]}`);
  const [charlie] = requestsOf(stub, "MARK_CHARLIE");
  const text = stub.requestText(charlie);
  assert.ok(!text.includes("MARK_ALPHA") && !text.includes("MARK_BRAVO"), text);
  // Without the /clear after each job the history would carry both earlier prompts and answers.
  assert.equal(
    (charlie.body?.messages ?? []).filter((message) => message.role === "assistant").length,
    0,
  );
});

Deno.test({
  name:
    "real CLI, warm: a process is replaced after CLAUDE_CLI_MAX_JOBS jobs and after an error, stopped when idle, and none is left when the supervisor stops",
  ignore,
  ...integration,
}, async () => {
  await using setup = await setUp("warm", {
    env: { CLAUDE_CLI_MAX_JOBS: "2", CLAUDE_CLI_IDLE: "3s" },
  });
  const { stub, queue, supervisor } = setup;
  await idle(supervisor);
  const seen: number[][] = [];
  for (const prompt of ["one", "two", "three", "four STUB_ERROR=500", "five"]) {
    await finished(queue, await queue.add("llm", { prompt }, { attempts: 1 }), prompt);
    seen.push(cliPids(stub));
  }
  // Jobs 1-2 on process A, 3 on B, 4 fails on B (B is replaced), 5 on C.
  assert.equal(seen[0].length, 1);
  assert.deepEqual(seen[1], [], "recycled after 2 jobs");
  assert.equal(seen[2].length, 1);
  assert.notEqual(seen[2][0], seen[0][0]);
  assert.deepEqual(seen[3], [], "recycled after an error");
  assert.equal(seen[4].length, 1);
  await waitUntil(() => cliPids(stub).length === 0, {
    what: "the idle process to stop",
    timeoutMs: 20_000,
  });
  await finished(queue, await queue.add("llm", { prompt: "six" }), "six");
  assert.equal(cliPids(stub).length, 1);
  supervisor.signal("SIGTERM");
  assert.equal(await supervisor.waitForExit(), 0);
  assert.deepEqual(cliPids(stub), [], "no CLI left after the stop");
});

Deno.test({
  name:
    "real CLI, warm: LLM_TIMEOUT kills the busy process group; the job is retried as transient and the next job gets a new process",
  ignore,
  ...integration,
}, async () => {
  // Long enough for a CLI on a loaded machine to reach the stub before the timeout fires.
  await using setup = await setUp("warm", { env: { LLM_TIMEOUT: "8s" } });
  const { stub, queue, supervisor } = setup;
  await idle(supervisor);
  const job = await queue.add("llm", { prompt: "slow STUB_SLEEP=60000" }, { attempts: 1 });
  const [busy] = await waitUntil(() => {
    const pids = cliPids(stub);
    return pids.length === 1 && requestsOf(stub, "STUB_SLEEP").length === 1 ? pids : undefined;
  }, { what: "the CLI to be waiting on the stub" });
  await waitUntil(async () => (await job.getState()) === "delayed", {
    what: "the job to wait for its retry",
  });
  // SIGKILL was sent before the job moved; the kernel may take a moment to tear a big process down.
  await waitUntil(() => !processExists(busy), { what: "the timed-out process to be gone" });
  assert.match((await queue.getJobLogs(job.id!)).logs[0], /timed out after 8 s \(LLM_TIMEOUT\)/);
  await job.remove();
  const next = await finished(queue, await queue.add("llm", { prompt: "after" }), "next job");
  assert.equal(await next.getState(), "completed", next.failedReason);
  assert.notDeepEqual(cliPids(stub), [busy]);
});

for (const mode of MODES) {
  Deno.test({
    name:
      `real CLI, ${mode}: with LLM_MAX_IN_FLIGHT=2, the bound is logged at start and 4 workers x 2 run at most 2 CLI processes and hold at most 2 jobs; the others wait in the queue`,
    ignore,
    ...integration,
  }, async () => {
    await using setup = await setUp(mode, {
      args: ["--count", "4", "--concurrency", "2"],
      env: { LLM_MAX_IN_FLIGHT: "2" },
    });
    const { stub, queue, supervisor } = setup;
    await supervisor.waitForHealth(
      (health) => health.workers.length === 4 && health.workers.every((w) => w.state === "idle"),
      "4 idle workers",
    );
    // The bound is logged at start, with where it comes from.
    const budget = logRecords(supervisor.logs).find((record) => "bound" in record);
    assert.ok(budget, "no record of the LLM budget at start");
    assert.match(String(budget.bound), /^at most 2 /);
    assert.equal(budget.explanation, "LLM_MAX_IN_FLIGHT=2");
    const jobs = await queue.addBulk(
      Array.from({ length: 8 }, (_, index) => ({
        name: "llm",
        data: { prompt: `bounded ${index} STUB_SLEEP=1500` },
      })),
    );
    let mostCli = 0;
    let mostActive = 0;
    let sawSixWaiting = false;
    await waitUntil(async () => {
      const counts = await queue.getJobCounts("active", "waiting", "completed", "failed");
      mostCli = Math.max(mostCli, cliPids(stub).length);
      mostActive = Math.max(mostActive, counts.active);
      if (counts.active === 2 && counts.waiting === 6) sawSixWaiting = true;
      return counts.completed + counts.failed === 8;
    }, { what: "8 jobs to finish", timeoutMs: 120_000, intervalMs: 20 });
    for (const job of jobs) {
      const done = (await queue.getJob(job.id!))!;
      assert.equal(await done.getState(), "completed", done.failedReason);
    }
    assert.equal(mostActive, 2, "2 jobs in flight at most, and the bound was reached");
    assert.ok(mostCli <= 2, `at most 2 CLI processes at once (saw ${mostCli})`);
    assert.ok(mostCli >= 1);
    assert.ok(sawSixWaiting, "with 2 jobs in flight, the other 6 were waiting in the queue");
    const served = new Set(
      (await Promise.all(jobs.map((job) => queue.getJob(job.id!)))).map((job) => job!.processedBy),
    );
    assert.ok(served.size <= 2, `only the 2 workers with a share took jobs (${[...served]})`);
  });
}
