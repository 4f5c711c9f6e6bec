/**
 * `deno task chaos [--short]`: real supervisors, a real redis-server (AOF on) and echo jobs,
 * through kill -9 storms, Redis restarts, stops, poison pills, recycling, hangs, a frozen Redis,
 * a hostname used twice and a paused provider. Counts every job's starts and completions from
 * BullMQ's own event stream, prints a table and writes bench/results/chaos.json. Exits 1 when a
 * scenario lost a job, completed one twice, or broke its own rule. `--short` is the CI form.
 */

import { Queue, QueueEvents } from "bullmq";
import { startRedis } from "../testing/redis.ts";
import { startSupervisor, type Supervisor } from "../testing/ppr.ts";
import { processExists, waitUntil } from "../testing/wait.ts";
import { delay } from "../async/mod.ts";
import { JOB_FIELDS, jobKey } from "../redis/bullmq_internals.ts";

const SHORT = Deno.args.includes("--short");
const size = (full: number, short: number) => (SHORT ? short : full);

type RedisServer = Awaited<ReturnType<typeof startRedis>>;

/** One row of the table. */
interface Outcome {
  scenario: string;
  enqueued: number;
  completed: number;
  failed: number;
  lost: number;
  duplicates: number;
  recoveryMedianS: number | null;
  recoveryMaxS: number | null;
  restarts: number;
  /** What the scenario checks besides nothing lost, and whether it held. */
  rule: string;
  ruleHeld: boolean;
  /** Jobs the scenario means to fail (the poison pill, the paused provider's); any other failure breaks it. */
  expectedFailed: number;
}

/** Every start and completion of every job, from BullMQ's event stream. */
function trackEvents(redis: RedisServer) {
  const events = new QueueEvents("llm", { connection: redis.client() });
  events.on("error", () => {});
  const starts = new Map<string, number>();
  const completions = new Map<string, number>();
  events.on("active", ({ jobId }) => starts.set(jobId, (starts.get(jobId) ?? 0) + 1));
  events.on("completed", ({ jobId }) => completions.set(jobId, (completions.get(jobId) ?? 0) + 1));
  return {
    starts,
    completions,
    duplicates: () => [...completions.values()].filter((count) => count > 1).length,
    close: () => events.close(),
  };
}

function echoJobs(count: number, latencyMs: number, tag: string) {
  return Array.from({ length: count }, (_, index) => ({
    name: "llm",
    data: { prompt: `${tag} ${index}`, provider: { name: "echo", latency_ms: latencyMs } },
    opts: { attempts: 3 },
  }));
}

async function addAll(queue: Queue, jobs: ReturnType<typeof echoJobs>): Promise<void> {
  for (let index = 0; index < jobs.length; index += 500) {
    await queue.addBulk(jobs.slice(index, index + 500));
  }
}

/** Waits until nothing is left to run (waiting, active, delayed), bounded. */
async function settled(queue: Queue, timeoutMs = 300_000): Promise<void> {
  await waitUntil(async () => {
    const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
    return Object.values(counts).every((count) => count === 0);
  }, { what: "every job to finish", timeoutMs, intervalMs: 100 });
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function pool(
  redis: RedisServer,
  args: string[],
  env: Record<string, string> = {},
): Promise<Supervisor> {
  const supervisor = startSupervisor(args, {
    redisUrl: redis.url,
    env: { LOG_LEVEL: "warning", LLM_PROVIDER: "echo", ...env },
  });
  const count = Number(args[args.indexOf("--count") + 1]);
  await supervisor.waitForHealth((health) => health.workers_alive === count, "the pool", 60_000);
  return supervisor;
}

async function restartsOf(supervisor: Supervisor): Promise<number> {
  try {
    const { body } = await supervisor.health();
    return body.workers.reduce((sum, worker) => sum + worker.restarts, 0);
  } catch {
    return 0;
  }
}

/** Stops a supervisor with SIGTERM and disposes of it. */
async function stop(supervisor: Supervisor): Promise<void> {
  supervisor.signal("SIGTERM");
  await supervisor.waitForExit(60_000).catch(() => {});
  await supervisor[Symbol.asyncDispose]();
}

/** Runs one scenario with its own Redis and event tracking, and counts the outcome. */
async function scenario(
  name: string,
  run: (context: {
    redis: RedisServer;
    queue: Queue;
    recoveries: number[];
    tracked: ReturnType<typeof trackEvents>;
  }) => Promise<
    { enqueued: number; restarts: number; rule: string; ruleHeld: boolean; expectedFailed?: number }
  >,
): Promise<Outcome> {
  console.error(`chaos: ${name} ...`);
  await using redis = await startRedis({ persist: true });
  const queue = new Queue("llm", {
    connection: redis.client(),
    streams: { events: { maxLen: 1_000_000 } },
  });
  queue.on("error", () => {});
  const tracked = trackEvents(redis);
  const recoveries: number[] = [];
  try {
    const result: {
      enqueued: number;
      restarts: number;
      rule: string;
      ruleHeld: boolean;
      expectedFailed?: number;
    } = await run({ redis, queue, recoveries, tracked }).catch((error) => ({
      enqueued: 0,
      restarts: 0,
      rule: `the scenario itself failed: ${error instanceof Error ? error.message : error}`,
      ruleHeld: false,
    }));
    const completed = await queue.getCompletedCount();
    const failed = await queue.getFailedCount();
    const left = Object.values(
      await queue.getJobCounts("waiting", "active", "delayed", "prioritized"),
    ).reduce((sum, count) => sum + count, 0);
    await delay(500); // the last completion events
    return {
      scenario: name,
      enqueued: result.enqueued,
      completed,
      failed,
      lost: result.enqueued - completed - failed - left,
      duplicates: tracked.duplicates(),
      recoveryMedianS: median(recoveries),
      recoveryMaxS: recoveries.length > 0 ? Math.max(...recoveries) : null,
      restarts: result.restarts,
      rule: result.rule,
      ruleHeld: result.ruleHeld && left === 0,
      expectedFailed: result.expectedFailed ?? 0,
    };
  } finally {
    await tracked.close();
    await queue.close();
  }
}

/**
 * Seconds from `since` until every worker is alive again and one more job has completed (or
 * none is left to run).
 */
async function recovery(
  supervisor: Supervisor,
  queue: Queue,
  count: number,
  since: number,
): Promise<number> {
  const before = await queue.getCompletedCount();
  await waitUntil(async () => {
    const { body } = await supervisor.health();
    if (body.workers_alive !== count) return false;
    if ((await queue.getCompletedCount()) > before) return true;
    const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
    return Object.values(counts).every((left) => left === 0);
  }, { what: "recovery", timeoutMs: 120_000, intervalMs: 20 });
  return (performance.now() - since) / 1000;
}

const outcomes: Outcome[] = [];

// 1. kill -9 of random children while jobs run.
outcomes.push(
  await scenario("kill -9 storm", async ({ redis, queue, recoveries }) => {
    const jobs = size(5000, 600);
    const kills = size(20, 4);
    const supervisor = await pool(redis, [
      "--count",
      "4",
      "--concurrency",
      "4",
      "--restart-delay",
      "200ms",
      "--restart-intensity",
      "100",
    ]);
    await addAll(queue, echoJobs(jobs, 20, "storm"));
    for (let kill = 0; kill < kills; kill++) {
      const { body } = await supervisor.health();
      const alive = body.workers.filter((worker) => worker.pid && processExists(worker.pid));
      if (alive.length === 0 || (await queue.getWaitingCount()) === 0) break;
      const victim = alive[Math.floor(Math.random() * alive.length)];
      const since = performance.now();
      Deno.kill(victim.pid!, "SIGKILL");
      recoveries.push(await recovery(supervisor, queue, 4, since));
    }
    await settled(queue);
    const restarts = await restartsOf(supervisor);
    await stop(supervisor);
    return { enqueued: jobs, restarts, rule: "-", ruleHeld: true };
  }),
);

// 2. Redis killed and restarted twice mid-run (AOF keeps the data).
outcomes.push(
  await scenario("Redis kill -9 and restart x2", async ({ redis, queue, recoveries }) => {
    const jobs = size(3000, 400);
    const supervisor = await pool(redis, ["--count", "4", "--concurrency", "4"]);
    await addAll(queue, echoJobs(jobs, 20, "redis"));
    for (let round = 0; round < 2; round++) {
      await delay(SHORT ? 300 : 1000);
      const since = performance.now();
      await redis.stop();
      await delay(500);
      await redis.start();
      recoveries.push(await recovery(supervisor, queue, 4, since));
    }
    await settled(queue);
    const restarts = await restartsOf(supervisor);
    await stop(supervisor);
    return { enqueued: jobs, restarts, rule: "no worker restarted", ruleHeld: restarts === 0 };
  }),
);

// 3. SIGTERM with jobs in flight, then a new supervisor takes over.
outcomes.push(
  await scenario("SIGTERM in flight, new supervisor", async ({ redis, queue, recoveries }) => {
    const jobs = size(1000, 200);
    const first = await pool(redis, [
      "--count",
      "4",
      "--concurrency",
      "4",
      "--drain-timeout",
      "5s",
    ]);
    await addAll(queue, echoJobs(jobs, 100, "handoff"));
    await delay(SHORT ? 500 : 2000);
    const since = performance.now();
    first.signal("SIGTERM");
    const code = await first.waitForExit(30_000);
    await first[Symbol.asyncDispose]();
    const second = await pool(redis, ["--count", "4", "--concurrency", "4"]);
    recoveries.push(await recovery(second, queue, 4, since));
    await settled(queue);
    const restarts = await restartsOf(second);
    await stop(second);
    return { enqueued: jobs, restarts, rule: "first exits 0", ruleHeld: code === 0 };
  }),
);

// 4. The drain deadline expires with long jobs in flight: they are given back, not failed.
outcomes.push(
  await scenario("drain deadline with long jobs", async ({ redis, queue }) => {
    const jobs = 16;
    const first = await pool(redis, [
      "--count",
      "2",
      "--concurrency",
      "8",
      "--drain-timeout",
      "1s",
    ]);
    await addAll(queue, echoJobs(jobs, 3000, "long"));
    await first.waitForHealth(
      (health) => health.workers.reduce((sum, worker) => sum + worker.active_jobs, 0) === 16,
      "16 jobs in flight",
    );
    first.signal("SIGTERM");
    const code = await first.waitForExit(30_000);
    await first[Symbol.asyncDispose]();
    const waiting = await queue.getWaitingCount();
    const second = await pool(redis, ["--count", "2", "--concurrency", "8"]);
    await settled(queue);
    await stop(second);
    const attempts = (await queue.getCompleted(0, -1)).map((job) => job.attemptsMade);
    return {
      enqueued: jobs,
      restarts: 0,
      rule: "all 16 given back, no attempt spent",
      ruleHeld: code === 0 && waiting === 16 && attempts.every((made) => made === 1),
    };
  }),
);

// 5. A poison pill among good jobs: the worker holding it is killed each time it runs.
outcomes.push(
  await scenario("poison pill among good jobs", async ({ redis, queue }) => {
    const good = size(1000, 200);
    const supervisor = await pool(redis, [
      "--count",
      "2",
      "--concurrency",
      "4",
      "--restart-delay",
      "100ms",
      "--restart-intensity",
      "100",
    ]);
    const poison = await queue.add("llm", {
      prompt: "poison",
      provider: { name: "echo", latency_ms: 600_000 },
    }, { attempts: 5 });
    await addAll(queue, echoJobs(good, 10, "good"));
    const client = redis.client();
    for (let crash = 0; crash < 3; crash++) {
      const pid = await waitUntil(async () => {
        if ((await poison.getState()) !== "active") return undefined;
        const holder = await client.hget(jobKey("bull", "llm", poison.id!), JOB_FIELDS.processedBy);
        const { body } = await supervisor.health();
        const worker = body.workers.find((each) =>
          each.name === holder && each.active_jobs > 0 && processExists(each.pid ?? 0)
        );
        return worker?.pid ?? undefined;
      }, { what: "the poison pill to run", timeoutMs: 120_000 });
      Deno.kill(pid, "SIGKILL");
      await waitUntil(() => !processExists(pid), { what: "the holder to die" });
    }
    await settled(queue);
    const restarts = await restartsOf(supervisor);
    await stop(supervisor);
    const state = await poison.getState();
    const reason = (await queue.getJob(poison.id!))?.failedReason ?? "";
    return {
      enqueued: good + 1,
      restarts,
      rule: "only the poison pill failed, after 3 crashes",
      ruleHeld: state === "failed" && /crashed 3 times/.test(reason),
      expectedFailed: 1,
    };
  }),
);

// 6. Workers over MAX_WORKER_MEMORY (set below their size): recycled again and again.
outcomes.push(
  await scenario("recycling past MAX_WORKER_MEMORY", async ({ redis, queue }) => {
    const jobs = size(1500, 300);
    const supervisor = await pool(redis, ["--count", "2", "--concurrency", "4"], {
      MAX_WORKER_MEMORY: "40MB",
    });
    await addAll(queue, echoJobs(jobs, 20, "recycle"));
    await settled(queue);
    // A replacement counts once it is ready and the old worker has drained: maybe after the jobs.
    await supervisor.waitForHealth(
      (body) => body.workers.some((worker) => worker.restarts > 0),
      "a recycled worker",
      10_000,
    ).catch(() => {});
    const restarts = await restartsOf(supervisor);
    await stop(supervisor);
    return { enqueued: jobs, restarts, rule: "workers recycled", ruleHeld: restarts > 0 };
  }),
);

// 7. A hung child (stopped with SIGSTOP): the heartbeat deadline kills and replaces it.
outcomes.push(
  await scenario("hung child", async ({ redis, queue, recoveries }) => {
    const jobs = size(1000, 200);
    const supervisor = await pool(redis, [
      "--count",
      "2",
      "--concurrency",
      "4",
      "--restart-delay",
      "100ms",
    ], {
      HEARTBEAT_TIMEOUT: "3s",
    });
    await addAll(queue, echoJobs(jobs, 50, "hung"));
    const busy = await supervisor.waitForHealth(
      (health) => health.workers.some((worker) => worker.active_jobs > 0),
      "a busy worker",
    );
    const victim = busy.workers.find((worker) => worker.active_jobs > 0)!.pid!;
    const since = performance.now();
    Deno.kill(victim, "SIGSTOP");
    recoveries.push(await recovery(supervisor, queue, 2, since));
    await settled(queue);
    const restarts = await restartsOf(supervisor);
    await stop(supervisor);
    return {
      enqueued: jobs,
      restarts,
      rule: "the hung child was killed",
      ruleHeld: !processExists(victim),
    };
  }),
);

// 8. Redis frozen during a stop: the supervisor still exits within DRAIN_TIMEOUT + 5 s.
outcomes.push(
  await scenario("Redis frozen during a stop", async ({ redis, queue }) => {
    const jobs = size(400, 100);
    const first = await pool(redis, [
      "--count",
      "2",
      "--concurrency",
      "4",
      "--drain-timeout",
      "2s",
    ]);
    await addAll(queue, echoJobs(jobs, 200, "frozen"));
    await delay(500);
    redis.freeze();
    const since = performance.now();
    first.signal("SIGTERM");
    const code = await first.waitForExit(60_000).catch(() => -1);
    const stopS = (performance.now() - since) / 1000;
    await first[Symbol.asyncDispose]();
    redis.thaw();
    // Jobs held by killed workers come back through BullMQ's stalled check (its lock, 30 s).
    const second = await pool(redis, ["--count", "2", "--concurrency", "4"]);
    await settled(queue, 180_000);
    await stop(second);
    return {
      enqueued: jobs,
      restarts: 0,
      rule: `stop took ${stopS.toFixed(1)} s <= 2 + 5`,
      ruleHeld: code === 0 && stopS <= 7.5,
    };
  }),
);

// 9. Two supervisors with one hostname: the second refuses; the first loses nothing.
outcomes.push(
  await scenario("two supervisors, one hostname", async ({ redis, queue }) => {
    const jobs = size(1000, 200);
    const first = await pool(redis, ["--count", "2", "--hostname", "twin"]);
    await addAll(queue, echoJobs(jobs, 10, "twin"));
    const second = startSupervisor(["--count", "2", "--hostname", "twin"], {
      redisUrl: redis.url,
      env: { LOG_LEVEL: "warning", LLM_PROVIDER: "echo" },
    });
    const code = await second.waitForExit(60_000).catch(() => -1);
    await second[Symbol.asyncDispose]();
    await settled(queue);
    const restarts = await restartsOf(first);
    await stop(first);
    return { enqueued: jobs, restarts, rule: "second exits 2", ruleHeld: code === 2 };
  }),
);

// 10. A paused provider other than the default: its jobs wait without spinning, others run.
outcomes.push(
  await scenario("paused non-default provider", async ({ redis, queue }) => {
    const others = size(500, 100);
    const paused = 50;
    const client = redis.client();
    const pauseMs = 8000;
    await client.set(
      "ppr:llm:pause:openai",
      JSON.stringify({
        state: "quota_exceeded",
        reason: "chaos",
        since: Date.now(),
        retry_at: Date.now() + pauseMs,
      }),
      "PX",
      pauseMs,
    );
    const supervisor = await pool(redis, ["--count", "2", "--concurrency", "4"], {
      OPENAI_API_KEY: "chaos",
      OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
    });
    await queue.addBulk(Array.from({ length: paused }, (_, index) => ({
      name: "llm",
      data: { prompt: `openai ${index}`, provider: { name: "openai" } },
      opts: { attempts: 1 },
    })));
    await addAll(queue, echoJobs(others, 5, "other"));
    await waitUntil(async () => (await queue.getCompletedCount()) === others, {
      what: "the other jobs",
      timeoutMs: 120_000,
    });
    const opsBefore = Number(/total_commands_processed:(\d+)/.exec(await client.info("stats"))![1]);
    await delay(2000);
    const opsAfter = Number(/total_commands_processed:(\d+)/.exec(await client.info("stats"))![1]);
    const opsPerS = (opsAfter - opsBefore) / 2;
    const delayed = await queue.getDelayedCount();
    // After the pause the openai jobs run; the stub URL answers nothing, so they fail as transient.
    await settled(queue, 180_000);
    const restarts = await restartsOf(supervisor);
    await stop(supervisor);
    return {
      enqueued: others + paused,
      restarts,
      rule: `${delayed} paused jobs delayed; ${Math.round(opsPerS)} Redis ops/s while paused`,
      ruleHeld: delayed === paused && opsPerS < 200,
      // After the pause they run against an address that answers nothing: transient, then failed.
      expectedFailed: paused,
    };
  }),
);

// The table, the file, the verdict.
const columns = [
  "scenario",
  "enqueued",
  "completed",
  "failed",
  "lost",
  "dup",
  "recovery median s",
  "recovery max s",
  "restarts",
  "rule",
];
const rows = outcomes.map((outcome) => [
  outcome.scenario,
  String(outcome.enqueued),
  String(outcome.completed),
  String(outcome.failed),
  String(outcome.lost),
  String(outcome.duplicates),
  outcome.recoveryMedianS === null ? "-" : outcome.recoveryMedianS.toFixed(2),
  outcome.recoveryMaxS === null ? "-" : outcome.recoveryMaxS.toFixed(2),
  String(outcome.restarts),
  `${outcome.ruleHeld ? "ok" : "BROKEN"}: ${outcome.rule}`,
]);
const widths = columns.map((column, index) =>
  Math.max(column.length, ...rows.map((row) => row[index].length))
);
const line = (cells: string[]) =>
  cells.map((cell, index) => cell.padEnd(widths[index])).join(" | ");
console.log(line(columns));
console.log(widths.map((width) => "-".repeat(width)).join("-|-"));
for (const row of rows) console.log(line(row));

await Deno.mkdir(new URL("../bench/results/", import.meta.url), { recursive: true });
await Deno.writeTextFile(
  new URL(`../bench/results/chaos${SHORT ? "-short" : ""}.json`, import.meta.url),
  JSON.stringify({ date: new Date().toISOString(), short: SHORT, outcomes }, null, 2) + "\n",
);

const broken = outcomes.filter((outcome) =>
  outcome.lost !== 0 || outcome.duplicates !== 0 || !outcome.ruleHeld ||
  outcome.failed !== outcome.expectedFailed
);
for (const outcome of outcomes) {
  console.log(`chaos: ${outcome.scenario} ... ${broken.includes(outcome) ? "FAILED" : "ok"}`);
}
console.log(`chaos: ${outcomes.length - broken.length} passed, ${broken.length} failed`);
Deno.exit(broken.length === 0 ? 0 : 1);
