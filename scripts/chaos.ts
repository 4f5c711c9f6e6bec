/**
 * `deno task chaos [--short]`: real supervisors, a real redis-server (AOF on) and echo jobs,
 * through kill -9 storms, Redis restarts, stops, poison pills, recycling, hangs, a frozen Redis,
 * a hostname used twice, a paused provider, the supervisor killed alone, a network partition
 * (testing/tcp_proxy.ts), Redis at maxmemory, a full disk under the recorder, a runaway schema
 * pattern, corrupt job records, the batch lane's desk and workers killed mid-batch (against the
 * Message Batches stub), and a mixed run of seeded random faults from the earlier list.
 * Counts every job's starts and completions from BullMQ's own event stream, prints a table and
 * writes bench/results/chaos.json. Exits 1 when a scenario lost a job, completed one twice, or
 * broke its own rule. `--short` is the CI form; `--only TEXT` runs the scenarios whose name holds
 * TEXT; `--seed N` repeats the batch lane's and the mixed run's faults.
 */

import { Queue, QueueEvents } from "bullmq";
import { startRedis } from "../testing/redis.ts";
import type { Redis } from "ioredis";
import {
  type HealthBody,
  killWithWorkers,
  lastLogLines,
  startSupervisor,
  type Supervisor,
} from "../testing/ppr.ts";
import { startTcpProxy } from "../testing/tcp_proxy.ts";
import { processExists, waitUntil } from "../testing/wait.ts";
import { delay } from "../async/mod.ts";
import { JOB_FIELDS, jobKey } from "../redis/bullmq_internals.ts";
import { TRY_LOG_PREFIX } from "../jobs/retry_policy.ts";
import { DESK_LEASE_KEY, listBatches } from "../jobs/batch/store.ts";
import { batchesPerPrompt } from "../testing/batch_lane.ts";
import { eventCounts } from "../testing/jobs.ts";
import { claudeApiEnv, startStubMessageBatches } from "../testing/stub_message_batches.ts";

const SHORT = Deno.args.includes("--short");
/** `--only TEXT`: run only the scenarios whose name holds TEXT (for working on one). */
const ONLY = Deno.args.includes("--only") ? Deno.args[Deno.args.indexOf("--only") + 1] : undefined;
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
  /** Jobs started more than once: the at-least-once caveat, ruled on where a scenario says so. */
  ranTwice: number;
  recoveryMedianS: number | null;
  recoveryMaxS: number | null;
  restarts: number;
  /** What the scenario checks besides nothing lost, and whether it held. */
  rule: string;
  ruleHeld: boolean;
  /** Jobs the scenario means to fail (the poison pill, the paused provider's); any other failure breaks it. */
  expectedFailed: number;
  /** Why the scenario could not run here (it then counts as passed, and says so). */
  skipped?: string;
}

/** What a scenario's body reports; the counts come from Redis and the event stream. */
interface ScenarioResult {
  enqueued: number;
  restarts: number;
  rule: string;
  ruleHeld: boolean;
  expectedFailed?: number;
  skipped?: string;
}

/** Epoch ms of a Redis stream entry id (`<ms>-<seq>`): when the event was written. */
function streamTime(id: string): number {
  return Number(id.split("-")[0]);
}

/** Every start and completion of every job, from BullMQ's event stream, with their times. */
function trackEvents(redis: RedisServer) {
  const events = new QueueEvents("llm", { connection: redis.client() });
  events.on("error", () => {});
  /** Epoch ms of each start of each job. */
  const starts = new Map<string, number[]>();
  const completions = new Map<string, number>();
  events.on("active", ({ jobId }, id) => {
    const times = starts.get(jobId) ?? [];
    times.push(streamTime(id));
    starts.set(jobId, times);
  });
  events.on("completed", ({ jobId }) => completions.set(jobId, (completions.get(jobId) ?? 0) + 1));
  /** The jobs started more than once. */
  const rerun = () => [...starts].filter(([, times]) => times.length > 1).map(([jobId]) => jobId);
  return {
    starts,
    completions,
    rerun,
    /** Jobs completed more than once (BullMQ must never allow it). */
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

/** Starts a supervisor and waits for its pool; `redisUrl` (e.g. a proxy's) replaces Redis's own. */
async function pool(
  redis: RedisServer,
  args: string[],
  env: Record<string, string> = {},
  redisUrl = redis.url,
): Promise<Supervisor> {
  const supervisor = startSupervisor(args, {
    redisUrl,
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
  }) => Promise<ScenarioResult>,
): Promise<Outcome | undefined> {
  if (ONLY !== undefined && !name.includes(ONLY)) return undefined;
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
    const result: ScenarioResult = await run({ redis, queue, recoveries, tracked }).catch((
      error,
    ) => ({
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
      ranTwice: tracked.rerun().length,
      recoveryMedianS: median(recoveries),
      recoveryMaxS: recoveries.length > 0 ? Math.max(...recoveries) : null,
      restarts: result.restarts,
      rule: result.rule,
      ruleHeld: result.ruleHeld && left === 0,
      expectedFailed: result.expectedFailed ?? 0,
      skipped: result.skipped,
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
/** Adds a scenario's row (none when `--only` left it out). */
function record(outcome: Outcome | undefined): void {
  if (outcome) outcomes.push(outcome);
}

// 1. kill -9 of random children while jobs run.
record(
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
      try {
        Deno.kill(victim.pid!, "SIGKILL");
      } catch (error) {
        // It exited between the look and the kill (its supervisor replaced it): pick again.
        if (error instanceof Deno.errors.NotFound) continue;
        throw error;
      }
      recoveries.push(await recovery(supervisor, queue, 4, since));
    }
    await settled(queue);
    const restarts = await restartsOf(supervisor);
    await stop(supervisor);
    return { enqueued: jobs, restarts, rule: "-", ruleHeld: true };
  }),
);

// 2. Redis killed and restarted twice mid-run (AOF keeps the data).
record(
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
record(
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
record(
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
record(
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
record(
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
record(
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
record(
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
record(
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
record(
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

// 11. kill -9 of the supervisor alone: its orphaned workers drain on stdin EOF and exit; a new
// supervisor takes the rest. Nothing runs twice.
record(
  await scenario(
    "supervisor kill -9, orphans drain",
    async ({ redis, queue, recoveries, tracked }) => {
      const jobs = size(1500, 300);
      const first = await pool(redis, ["--count", "4", "--concurrency", "4"]);
      await addAll(queue, echoJobs(jobs, 100, "orphan"));
      const busy = await first.waitForHealth(
        (health) => health.workers.every((worker) => worker.active_jobs > 0),
        "every worker busy",
      );
      const orphans = busy.workers.map((worker) => worker.pid).filter((pid) => pid !== null);
      const inFlight = busy.workers.reduce((sum, worker) => sum + worker.active_jobs, 0);
      const since = performance.now();
      first.signal("SIGKILL");
      await first.exited;
      const orphansExited = await waitUntil(() => orphans.every((pid) => !processExists(pid)), {
        what: "the orphaned workers to exit",
        timeoutMs: 60_000,
      }).then(() => true, () => false);
      await first[Symbol.asyncDispose]();
      const second = await pool(redis, ["--count", "4", "--concurrency", "4"]);
      recoveries.push(await recovery(second, queue, 4, since));
      await settled(queue);
      const restarts = await restartsOf(second);
      await stop(second);
      const ranTwice = tracked.rerun().length;
      return {
        enqueued: jobs,
        restarts,
        rule: `${orphans.length} orphans (${inFlight} jobs in flight) ${
          orphansExited ? "drained and exited" : "did NOT all exit"
        }; ${ranTwice} ran twice`,
        ruleHeld: orphansExited && ranTwice === 0,
      };
    },
  ),
);

/** The active jobs whose `pb` (the worker that took them) starts with `workerPrefix`. */
async function activeJobsOf(
  queue: Queue,
  redis: Redis,
  workerPrefix: string,
): Promise<Set<string>> {
  const held = new Set<string>();
  for (const id of await queue.getRanges(["active"], 0, -1)) {
    const holder = await redis.hget(jobKey("bull", "llm", id), JOB_FIELDS.processedBy);
    if (holder?.startsWith(workerPrefix)) held.add(id);
  }
  return held;
}

// 12. A network partition of one supervisor (through a TCP proxy) while another works: the cut
// supervisor's locks expire, BullMQ's stalled check gives its jobs to the other one. A job can
// then run twice, but only one the cut supervisor held at the cut.
record(
  await scenario(
    "network partition of one supervisor",
    async ({ redis, queue, recoveries, tracked }) => {
      const jobs = size(2000, 400);
      // Locks last LOCK_DURATION (10 s, renewed every 2.5 s) and the stalled check runs every
      // STALLED_INTERVAL (3 s): a cut of 20 s outlasts every lock the cut supervisor held.
      const cutS = 20;
      await using proxy = startTcpProxy(redis.port);
      const args = ["--count", "2", "--concurrency", "4"];
      const cut = await pool(
        redis,
        [...args, "--hostname", "cut"],
        {},
        `redis://127.0.0.1:${proxy.port}`,
      );
      const whole = await pool(redis, [...args, "--hostname", "whole"]);
      await addAll(queue, echoJobs(jobs, 200, "partition"));
      await cut.waitForHealth(
        (health) => health.workers.every((worker) => worker.active_jobs > 0),
        "the cut supervisor busy",
      );
      proxy.cut("blackhole");
      const cutAt = Date.now();
      const client = redis.client();
      const held = await activeJobsOf(queue, client, "worker-cut-");
      await delay(cutS * 1000);
      proxy.heal();
      const healedAt = Date.now();
      const since = performance.now();
      recoveries.push(await recovery(cut, queue, 2, since));
      await settled(queue, 180_000);
      const restarts = (await restartsOf(cut)) + (await restartsOf(whole));
      await stop(cut);
      await stop(whole);
      const rerun = tracked.rerun();
      const unexplained = rerun.filter((jobId) => !held.has(jobId));
      const takenOver = rerun.filter((jobId) => {
        const second = tracked.starts.get(jobId)![1];
        return second >= cutAt && second <= healedAt;
      }).length;
      return {
        enqueued: jobs,
        restarts,
        rule:
          `${rerun.length} ran twice, all among the ${held.size} the cut supervisor held at the cut${
            unexplained.length > 0 ? ` (NOT ${unexplained.length})` : ""
          }; ${takenOver} taken over during the ${cutS} s cut`,
        ruleHeld: unexplained.length === 0,
      };
    },
  ),
);

/** What /health says about Redis refusing writes, if it says it: `redis.writable` or a reason. */
function healthSaysRefused(body: HealthBody): boolean {
  const redis = body.redis as HealthBody["redis"] & { writable?: boolean };
  const reasons = (body as HealthBody & { reasons?: string[] }).reasons ?? [];
  return redis.writable === false ||
    reasons.some((reason) => /maxmemory|OOM|refus\\w* writes/i.test(reason));
}

// 13. Redis at maxmemory with noeviction: every write is refused (OOM) for a while, then allowed.
record(
  await scenario("Redis at maxmemory (noeviction)", async ({ redis, queue, recoveries }) => {
    const jobs = size(1500, 400);
    const refusedMs = size(15_000, 5_000);
    const supervisor = await pool(redis, ["--count", "2", "--concurrency", "4"]);
    await addAll(queue, echoJobs(jobs, 200, "oom"));
    await delay(1000);
    const admin = redis.client();
    await admin.config("SET", "maxmemory-policy", "noeviction");
    await admin.config("SET", "maxmemory", "1");
    const since = performance.now();
    const refusal = await admin.set("chaos:probe", "x").then(
      () => "accepted",
      (error) => error.message,
    );
    const said: string[] = [];
    let saidSo = false;
    for (const until = Date.now() + refusedMs; Date.now() < until; await delay(500)) {
      const { body } = await supervisor.health().catch(() => ({ body: undefined }));
      if (!body) continue;
      const reasons = (body as HealthBody & { reasons?: string[] }).reasons ?? [];
      const { latency_ms: _latency, ...redisSaid } = body.redis;
      const saying = `${body.status} ${JSON.stringify(redisSaid)} ${JSON.stringify(reasons)}`;
      if (!said.includes(saying)) said.push(saying);
      saidSo ||= healthSaysRefused(body);
    }
    await admin.config("SET", "maxmemory", "0");
    console.error(`chaos: /health while writes were refused: ${said.join(" | ")}`);
    recoveries.push(await recovery(supervisor, queue, 2, since));
    await settled(queue, 180_000);
    const restarts = await restartsOf(supervisor);
    await stop(supervisor);
    const refused = /OOM/.test(refusal);
    return {
      enqueued: jobs,
      restarts,
      rule: `writes ${refused ? "refused (OOM)" : `NOT refused: ${refusal}`} for ${
        refusedMs / 1000
      } s; /health ${saidSo ? "said so" : `did NOT say so: ${said.at(-1) ?? "no answer"}`}`,
      ruleHeld: refused && saidSo,
    };
  }),
);

/** A tmpfs of `sizeBytes` mounted on a new directory, or why it could not be (not root, no mount). */
async function mountTmpfs(
  sizeBytes: number,
): Promise<{ dir: string; unmount: () => Promise<void> } | { problem: string }> {
  const dir = await Deno.makeTempDir({ prefix: "ppr-chaos-disk-" });
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${sizeBytes}`, "tmpfs", dir],
    stdout: "null",
    stderr: "piped",
  }).output().catch((error) => ({
    success: false,
    stderr: new TextEncoder().encode(String(error)),
  }));
  if (!mount.success) {
    await Deno.remove(dir).catch(() => {});
    return { problem: `mount -t tmpfs failed: ${new TextDecoder().decode(mount.stderr).trim()}` };
  }
  return {
    dir,
    unmount: async () => {
      await new Deno.Command("umount", { args: [dir], stdout: "null", stderr: "null" }).output();
      await Deno.remove(dir).catch(() => {});
    },
  };
}

/** Writes `path` until the disk under it is full; returns the bytes written. */
async function fillDisk(path: string): Promise<number> {
  const file = await Deno.open(path, { write: true, create: true });
  const chunk = new Uint8Array(64 * 1024);
  let written = 0;
  try {
    while (true) written += await file.write(chunk);
  } catch {
    // ENOSPC: full
  } finally {
    file.close();
  }
  return written;
}

/** The result files under a recorder's OUTPUT_DIR (by job id), and the totals its summaries say. */
async function recordedResults(outputDir: string) {
  const files = new Map<string, number>();
  let summarized = 0;
  let temporary = 0;
  for await (const day of Deno.readDir(`${outputDir}/daily`)) {
    const dayDir = `${outputDir}/daily/${day.name}`;
    const summary = JSON.parse(await Deno.readTextFile(`${dayDir}/summary.json`).catch(() => "{}"));
    summarized += summary.total ?? 0;
    for await (const scraper of Deno.readDir(`${dayDir}/scrapers`)) {
      for await (const file of Deno.readDir(`${dayDir}/scrapers/${scraper.name}`)) {
        if (file.name.startsWith(".")) temporary++;
        else if (file.name.endsWith(".json")) {
          const id = file.name.slice(0, -".json".length);
          files.set(id, (files.get(id) ?? 0) + 1);
        }
      }
    }
  }
  return { files, summarized, temporary };
}

// 14. The disk under the recorder fills up mid-run, then is freed: every result is recorded once.
record(
  await scenario("full disk under the recorder", async ({ redis, queue }) => {
    const jobs = size(1000, 300);
    const fullMs = 3000;
    const disk = await mountTmpfs(16 * 1024 * 1024);
    if ("problem" in disk) {
      return { enqueued: 0, restarts: 0, rule: "-", ruleHeld: true, skipped: disk.problem };
    }
    const recorder = new Queue("recorder", { connection: redis.client() });
    try {
      const supervisor = await pool(redis, ["--count", "2", "--concurrency", "4"], {
        QUEUE_NAME: "llm,recorder",
        LLM_RESULT_QUEUES: "recorder",
        OUTPUT_DIR: disk.dir,
      });
      await addAll(
        queue,
        echoJobs(jobs, 20, "disk").map((job) => ({
          ...job,
          data: { ...job.data, metadata: { scraper_id: "chaos" } },
        })),
      );
      await waitUntil(async () => (await recorder.getCompletedCount()) >= jobs / 3, {
        what: "a third of the results recorded",
        timeoutMs: 120_000,
      });
      const filler = `${disk.dir}/filler`;
      const filled = await fillDisk(filler);
      await delay(fullMs);
      await Deno.remove(filler);
      await settled(queue);
      await waitUntil(async () => {
        const counts = await recorder.getJobCounts("waiting", "active", "delayed", "prioritized");
        return Object.values(counts).every((count) => count === 0);
      }, { what: "every result recorded", timeoutMs: 120_000 });
      const restarts = await restartsOf(supervisor);
      await stop(supervisor);
      const { files, summarized, temporary } = await recordedResults(disk.dir);
      const completedIds = await queue.getRanges(["completed"], 0, -1);
      const missing = completedIds.filter((id) => files.get(id) !== 1).length;
      const recorderFailed = await recorder.getFailedCount();
      let triesFailed = 0;
      for (const id of await recorder.getRanges(["completed"], 0, -1)) {
        const { logs } = await recorder.getJobLogs(id);
        triesFailed += logs.filter((line) => line.startsWith(TRY_LOG_PREFIX)).length;
      }
      return {
        enqueued: jobs,
        restarts,
        rule: `disk full (${Math.round(filled / 1024)} KiB filler) for ${
          fullMs / 1000
        } s; ${files.size} files, summary.json says ${summarized}; ${missing} results not recorded once; ${recorderFailed} recorder jobs failed; ${temporary} .tmp left`,
        ruleHeld: missing === 0 && summarized === files.size &&
          files.size === completedIds.length &&
          recorderFailed === 0,
      };
    } finally {
      await recorder.close();
      await disk.unmount();
    }
  }),
);

/** An echo job whose answer makes its schema's pattern backtrack catastrophically. */
function poisonSchemaJob(index: number) {
  return {
    name: "llm",
    data: {
      prompt: JSON.stringify({ code: `${"a".repeat(44)}b` }),
      format: {
        type: "object",
        properties: { code: { type: "string", pattern: "^(a+)+$" } },
      },
      provider: { name: "echo", latency_ms: 10 },
      metadata: { chaos: `poison schema ${index}` },
    },
    opts: { attempts: 3 },
  };
}

// 15. A schema pattern that backtracks catastrophically, among good jobs: those jobs fail at once.
record(
  await scenario("poison schema pattern among good jobs", async ({ redis, queue, tracked }) => {
    const good = size(1000, 200);
    const poisonCount = size(20, 5);
    const supervisor = await pool(redis, ["--count", "2", "--concurrency", "4"]);
    const jobs: { name: string; data: object; opts: object }[] = echoJobs(good, 10, "good");
    for (let index = 0; index < poisonCount; index++) {
      jobs.splice(
        Math.floor((index + 1) * jobs.length / (poisonCount + 1)),
        0,
        poisonSchemaJob(index),
      );
    }
    const poison: string[] = [];
    for (let index = 0; index < jobs.length; index += 500) {
      for (const job of await queue.addBulk(jobs.slice(index, index + 500))) {
        if (job.data.metadata?.chaos) poison.push(job.id!);
      }
    }
    await settled(queue);
    const restarts = await restartsOf(supervisor);
    await stop(supervisor);
    let failedAtOnce = 0;
    for (const id of poison) {
      const job = await queue.getJob(id);
      if (
        (await job?.getState()) === "failed" && job?.failedReason.includes('"^(a+)+$"') &&
        tracked.starts.get(id)?.length === 1
      ) failedAtOnce++;
    }
    return {
      enqueued: good + poisonCount,
      restarts,
      rule: `${failedAtOnce} of ${poisonCount} failed at once naming the pattern; no restart`,
      ruleHeld: failedAtOnce === poisonCount && restarts === 0,
      expectedFailed: poisonCount,
    };
  }),
);

/** The fields written over a job's hash, and what each is made to hold. */
const CORRUPTIONS = [
  { field: "data", value: "{not json" },
  { field: "opts", value: "{not json" },
  { field: "atm", value: "not a number" },
] as const;

// 16. Corrupt job records (hash fields that are not JSON, or no integer) among good jobs: each
// fails with a reason, none stays active forever, none is lost.
record(
  await scenario("corrupt job records", async ({ redis, queue }) => {
    const good = size(500, 100);
    const client = redis.client();
    await addAll(queue, echoJobs(good / 2, 10, "good"));
    const corrupt: string[] = [];
    for (const { field, value } of CORRUPTIONS) {
      const job = await queue.add("llm", {
        prompt: `corrupt ${field}`,
        provider: { name: "echo", latency_ms: 10 },
      }, { attempts: 3 });
      await client.hset(jobKey("bull", "llm", job.id!), field, value);
      corrupt.push(job.id!);
    }
    await addAll(queue, echoJobs(good / 2, 10, "good"));
    const supervisor = await pool(redis, ["--count", "2", "--concurrency", "4"]);
    const ends = async () =>
      await Promise.all(corrupt.map(async (id) => ({
        id,
        state: await queue.getJobState(id),
        reason: (await client.hget(jobKey("bull", "llm", id), JOB_FIELDS.failedReason)) ?? "",
      })));
    await waitUntil(async () => {
      if ((await queue.getCompletedCount()) < good) return false;
      return (await ends()).every(({ state }) => state === "failed");
    }, {
      what: "the good jobs completed and the corrupt ones failed",
      timeoutMs: size(120_000, 30_000),
    })
      .catch(() => {});
    const seen = await ends();
    const restarts = await restartsOf(supervisor);
    await stop(supervisor);
    const said = seen.map(({ state, reason }, index) =>
      `${CORRUPTIONS[index].field}: ${state}${reason ? ` (${reason.slice(0, 60)})` : ""}`
    );
    console.error(`chaos: corrupt job records: ${said.join("; ")}`);
    return {
      enqueued: good + corrupt.length,
      restarts,
      rule: said.join("; "),
      ruleHeld: seen.every(({ state, reason }) => state === "failed" && reason !== ""),
      expectedFailed: corrupt.length,
    };
  }),
);

/** A seeded random number generator (mulberry32): the same seed draws the same faults. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded draws (the same seed draws the same): one of `items`, an integer from `low` to `high`. */
function drawsOf(seed: number) {
  const random = seededRandom(seed);
  return {
    pick: <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)],
    between: (low: number, high: number) => low + Math.floor(random() * (high - low + 1)),
  };
}

/** The faults of the mixed run. */
const FAULT_KINDS = [
  "worker kill -9",
  "hung worker",
  "supervisor kill -9",
  "drain deadline",
  "partition",
  "Redis restart",
  "Redis frozen",
  "maxmemory",
  "disk full",
  "poison schema",
  "corrupt record",
] as const;
type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * The faults after which a job may run again: its run was cut short or its lock was lost. While
 * Redis refuses writes (`maxmemory`), BullMQ's lock renewal is refused too (its `extendLocks`
 * script renews with `SET ... PX`, a write that needs memory): a lock can expire and the stalled
 * check hand the job to another worker, as in a partition.
 */
const EXPLAINS_A_RERUN: FaultKind[] = [
  "partition",
  "drain deadline",
  "worker kill -9",
  "hung worker",
  "maxmemory",
];

/** One fault of the mixed run: when it began and ended (epoch ms). */
interface Fault {
  kind: FaultKind;
  detail: string;
  start: number;
  end: number;
}

/** The seed of the random draws of the batch lane's and the mixed run's faults (`--seed N`). */
const SEED = Deno.args.includes("--seed")
  ? Number(Deno.args[Deno.args.indexOf("--seed") + 1])
  : Math.floor(Math.random() * 2 ** 31);

/** The exit code of a process ended by SIGKILL, as Deno reports it (128 + 9). */
const SIGKILLED = 137;

/** The faults of the batch lane's scenario. */
const BATCH_FAULTS = ["desk holder and its workers", "desk holder alone", "a worker"] as const;

// 17. The batch lane: kill -9 of the batch desk's holder (with its workers, or alone: its orphans
// drain) and of workers, at random moments while batches are submitted, open and read (the
// Message Batches stub, in-process, holds each create's answer and each results download a
// little, for there to be moments to die in); each dead supervisor replaced under a new hostname.
// Every job completes once, sent in exactly one batch, its result routed once.
record(
  await scenario("batch lane: kill -9 of desk and workers", async ({ redis, queue }) => {
    const jobs = size(1000, 150);
    const faultCount = size(12, 4);
    const { pick, between } = drawsOf(SEED);
    console.error(`chaos: batch lane seed ${SEED} (--seed ${SEED} draws the same faults)`);
    await using stub = startStubMessageBatches({
      processingMs: 1500,
      holdCreated: () => delay(between(200, 1000)),
      holdResults: { afterLines: 4, until: () => delay(between(200, 1000)) },
    });
    const env = {
      ...claudeApiEnv(stub.url),
      LLM_BATCH_QUEUES: "llm",
      LLM_RESULT_QUEUES: "results",
      BATCH_MAX_JOBS: "10",
      BATCH_MAX_WAIT: "1s",
      BATCH_POLL_INTERVAL: "200ms",
    };
    const args = ["--count", "2", "--restart-delay", "200ms", "--restart-intensity", "100"];
    let started = 0;
    const supervisors = new Map<string, Supervisor>();
    const start = async () => {
      const hostname = `batch${++started}`;
      supervisors.set(hostname, await pool(redis, [...args, "--hostname", hostname], env));
    };
    await start();
    await start();
    const client = redis.client();
    const results = new Queue("results", { connection: client });
    results.on("error", () => {});
    const holderOf = async () => (await client.get(DESK_LEASE_KEY))?.split(" ")[0];
    /** What the fleet's batches are doing: being submitted, open at the provider, being read. */
    const moments = async () =>
      (await listBatches(client)).open.map((record) =>
        record.phase === "submitting" ? "submitted" : record.stored > 0 ? "read" : "open"
      );
    const seen: string[] = [];
    let restarts = 0;
    let enqueued = 0;
    /** Supervisors that exited though no fault killed them (a defect), with their last lines. */
    const exitedOnTheirOwn: string[] = [];
    /** What a fault's kill left undone: a killed fleet member's processes that did not end. */
    const killsUndone: string[] = [];
    /** Records `supervisor` as exited on its own unless it ended by a SIGKILL (exit code 137). */
    const noteIfOwnExit = async (hostname: string, supervisor: Supervisor) => {
      const code = await supervisor.exited; // resolves once its last lines are read
      if (code === SIGKILLED) return;
      exitedOnTheirOwn.push(`${hostname} exited with code ${code}: ${lastLogLines(supervisor)}`);
    };
    /** Takes the supervisors that have exited though no fault touched them out, and replaces them. */
    const replaceOwnExits = async () => {
      for (const [hostname, supervisor] of [...supervisors]) {
        if (supervisor.exitCode === undefined) continue;
        supervisors.delete(hostname);
        await noteIfOwnExit(hostname, supervisor);
        await supervisor[Symbol.asyncDispose]();
        await start();
      }
    };

    const inject = async (kind: (typeof BATCH_FAULTS)[number]): Promise<string> => {
      if (kind === "a worker") {
        const [hostname, supervisor] = pick([...supervisors]);
        const { body } = await supervisor.health();
        const pids = body.workers.flatMap((worker) =>
          worker.pid && processExists(worker.pid) ? [worker.pid] : []
        );
        Deno.kill(pick(pids), "SIGKILL");
        return hostname;
      }
      const hostname = await waitUntil(async () => {
        const holder = await holderOf();
        return holder && supervisors.has(holder) ? holder : undefined;
      }, { what: "a desk holder", timeoutMs: 30_000 });
      const holder = supervisors.get(hostname)!;
      restarts += await restartsOf(holder);
      // Before the kill, a failure is the fault's own ("could not", below); after it, a check.
      const { body } = await holder.health();
      const workerPids = body.workers.flatMap((worker) => worker.pid ?? []);
      supervisors.delete(hostname);
      try {
        // With its workers, they die with it; alone, its orphans drain on their own (stdin EOF).
        const withWorkers = kind === "desk holder and its workers";
        for (const pid of withWorkers ? [holder.pid, ...workerPids] : [holder.pid]) {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch {
            // gone already: the holder's own exit is told below, a worker's was a restart
          }
        }
        await holder.exited;
        await waitUntil(() => workerPids.every((pid) => !processExists(pid)), {
          what: withWorkers
            ? "the killed holder's workers gone"
            : "the orphaned workers to drain and exit",
          timeoutMs: withWorkers ? 20_000 : 60_000,
        });
      } catch (error) {
        killsUndone.push(
          `${kind} of ${hostname}: ${error instanceof Error ? error.message : error}`,
        );
      } finally {
        // Killed, it leaves the fleet and is replaced whatever the checks said: a dead supervisor
        // left in `supervisors` would be picked again. An exit that was not the kill's is told.
        await holder[Symbol.asyncDispose]();
        await noteIfOwnExit(hostname, holder);
        await start();
      }
      return hostname;
    };

    try {
      for (let index = 0; index < faultCount; index++) {
        const count = Math.floor(jobs / faultCount) +
          (index === faultCount - 1 ? jobs % faultCount : 0);
        await queue.addBulk(Array.from({ length: count }, (_, n) => ({
          name: "llm",
          data: { prompt: `batch ${index} ${n}` },
          opts: { attempts: 3 },
        })));
        enqueued += count;
        // A moment drawn among the three, waited for (bounded: a fault comes either way).
        const moment = pick(["submitted", "open", "read"] as const);
        const phases = await waitUntil(async () => {
          const now = await moments();
          return now.includes(moment) ? now : undefined;
        }, { what: `a batch ${moment}`, timeoutMs: 20_000, intervalMs: 20 }).catch(moments);
        const kind = pick(BATCH_FAULTS);
        await replaceOwnExits();
        const detail = await inject(kind).catch((error) => `could not: ${error.message}`);
        seen.push(`${kind} (${detail}) with batches ${phases.join(", ") || "none"}`);
        console.error(`chaos: batch lane fault ${index + 1}: ${seen.at(-1)}`);
        // One crash at a time: a batch a dead desk left submitting is recovered before the next.
        await waitUntil(
          async () => (await listBatches(client)).open.every((record) => record.phase === "open"),
          { what: "no batch left submitting", timeoutMs: 60_000 },
        ).catch(() => {});
      }
      await settled(queue, 300_000).catch((error) => {
        throw new Error(
          `${error.message}${
            exitedOnTheirOwn.length > 0
              ? `; supervisors exited: ${exitedOnTheirOwn.join("; ")}`
              : ""
          }`,
        );
      });
      await replaceOwnExits();
      for (const supervisor of supervisors.values()) {
        restarts += await restartsOf(supervisor);
        await stop(supervisor);
      }
    } finally {
      for (const supervisor of supervisors.values()) await supervisor[Symbol.asyncDispose]();
    }

    const completed = new Set(await queue.getRanges(["completed"], 0, -1));
    const prompts = new Map<string, string>();
    for (const id of completed) prompts.set(id, (await queue.getJob(id))?.data.prompt);
    const sent = batchesPerPrompt(stub);
    const notOnce = [...prompts.values()].filter((prompt) => sent.get(prompt) !== 1).length;
    const routed = await results.getRanges(["waiting", "active", "delayed", "completed"], 0, -1);
    const expected = new Set([...completed].map((id) => `llm-${id}`));
    const routedOnce = routed.length === expected.size &&
      new Set(routed).size === routed.length && routed.every((id) => expected.has(id));
    const reRouted = (await eventCounts(client, results, "duplicated")).size;
    await results.close();
    return {
      enqueued,
      restarts,
      rule: `${stub.batches().length} batches; ${notOnce} jobs not in exactly one batch; results ${
        routedOnce ? "routed once each" : `NOT routed once each (${routed.length} routed)`
      } (${reRouted} routed again after a kill, deduplicated); faults: ${seen.join("; ")}${
        exitedOnTheirOwn.length > 0
          ? `; SUPERVISORS EXITED UNKILLED: ${exitedOnTheirOwn.join("; ")}`
          : ""
      }${killsUndone.length > 0 ? `; KILLS UNDONE: ${killsUndone.join("; ")}` : ""}`,
      ruleHeld: notOnce === 0 && routedOnce && exitedOnTheirOwn.length === 0 &&
        killsUndone.length === 0,
    };
  }),
);

// 18. The mixed run: random faults from the earlier list, in one run, two supervisors (one behind
// the proxy), the recorder behind both when a tmpfs can be mounted.
record(
  await scenario(
    `mixed: ${size(100, 12)} random faults`,
    async ({ redis, queue, recoveries, tracked }) => {
      const goodJobs = size(5000, 800);
      const faultCount = size(100, 12);
      const { pick, between } = drawsOf(SEED);
      console.error(`chaos: mixed run seed ${SEED} (--seed ${SEED} draws the same faults)`);

      await using proxy = startTcpProxy(redis.port);
      const disk = await mountTmpfs(64 * 1024 * 1024);
      const kinds = FAULT_KINDS.filter((kind) => kind !== "disk full" || !("problem" in disk));
      if ("problem" in disk) {
        console.error(`chaos: mixed run without the recorder: ${disk.problem}`);
      }
      const recorderEnv: Record<string, string> = "problem" in disk ? {} : {
        QUEUE_NAME: "llm,recorder",
        LLM_RESULT_QUEUES: "recorder",
        OUTPUT_DIR: disk.dir,
      };
      const env = { HEARTBEAT_TIMEOUT: "3s", ...recorderEnv };
      const args = [
        "--count",
        "2",
        "--concurrency",
        "4",
        "--restart-delay",
        "100ms",
        "--restart-intensity",
        "1000",
        "--drain-timeout",
        "1s",
      ];
      const urls = { a: redis.url, b: `redis://127.0.0.1:${proxy.port}` };
      const start = (name: "a" | "b") =>
        pool(redis, [...args, "--hostname", name], env, urls[name]);
      const supervisors = { a: await start("a"), b: await start("b") };
      const client = redis.client();
      const faults: Fault[] = [];
      let enqueued = 0;
      let expectedFailed = 0;
      let restarts = 0;

      const alivePids = async (name: "a" | "b") => {
        const { body } = await supervisors[name].health();
        return body.workers.map((worker) => worker.pid).filter((pid): pid is number =>
          pid !== null && processExists(pid)
        );
      };
      const replace = async (name: "a" | "b", pids: number[]) => {
        restarts += await restartsOf(supervisors[name]);
        await supervisors[name].waitForExit(60_000).catch(() => {});
        await waitUntil(() => pids.every((pid) => !processExists(pid)), {
          what: "the old workers to exit",
          timeoutMs: 60_000,
        });
        await supervisors[name][Symbol.asyncDispose]();
        supervisors[name] = await start(name);
      };

      const inject = async (kind: FaultKind): Promise<string> => {
        const name = pick(["a", "b"] as const);
        switch (kind) {
          case "worker kill -9":
          case "hung worker": {
            const pid = pick(await alivePids(name));
            Deno.kill(pid, kind === "hung worker" ? "SIGSTOP" : "SIGKILL");
            return `${name}'s worker ${pid}`;
          }
          case "supervisor kill -9": {
            const pids = await alivePids(name);
            // A worker an earlier fault froze (SIGSTOP) would never read its stdin's end: its
            // supervisor, which would have killed it as hung, is the one killed here.
            for (const pid of pids) {
              try {
                Deno.kill(pid, "SIGCONT");
              } catch {
                // gone meanwhile
              }
            }
            supervisors[name].signal("SIGKILL");
            await replace(name, pids);
            return `${name}, ${pids.length} orphans`;
          }
          case "drain deadline": {
            // Long jobs, so that some are still running at the deadline.
            await addAll(queue, echoJobs(8, 3000, "long"));
            enqueued += 8;
            await supervisors[name].waitForHealth(
              (health) => health.workers.some((worker) => worker.active_jobs > 0),
              "jobs in flight",
            ).catch(() => {});
            const pids = await alivePids(name);
            supervisors[name].signal("SIGTERM");
            await replace(name, pids);
            return name;
          }
          case "partition": {
            const seconds = between(2, size(20, 8));
            proxy.cut("blackhole");
            await delay(seconds * 1000);
            proxy.heal();
            return `b, ${seconds} s`;
          }
          case "Redis restart":
            await redis.stop();
            await delay(300);
            await redis.start();
            return "-";
          case "Redis frozen": {
            const ms = between(500, 2000);
            redis.freeze();
            await delay(ms);
            redis.thaw();
            return `${ms} ms`;
          }
          case "maxmemory": {
            const ms = between(1000, 3000);
            await client.config("SET", "maxmemory-policy", "noeviction");
            await client.config("SET", "maxmemory", "1");
            await delay(ms);
            await client.config("SET", "maxmemory", "0");
            return `${ms} ms`;
          }
          case "disk full": {
            if ("problem" in disk) return "-";
            const ms = between(1000, 3000);
            await fillDisk(`${disk.dir}/filler`);
            await delay(ms);
            await Deno.remove(`${disk.dir}/filler`);
            return `${ms} ms`;
          }
          case "poison schema":
            await queue.add("llm", poisonSchemaJob(faults.length).data, { attempts: 3 });
            enqueued++;
            expectedFailed++;
            return "1 job";
          case "corrupt record": {
            const { field, value } = pick(CORRUPTIONS);
            const job = await queue.add("llm", {
              prompt: `corrupt ${field}`,
              provider: { name: "echo", latency_ms: 10 },
            }, { attempts: 3, delay: 1000 });
            await client.hset(jobKey("bull", "llm", job.id!), field, value);
            enqueued++;
            expectedFailed++;
            return field;
          }
        }
      };

      for (let index = 0; index < faultCount; index++) {
        const batch = Math.floor(goodJobs / faultCount) +
          (index === faultCount - 1 ? goodJobs % faultCount : 0);
        await addAll(queue, echoJobs(batch, 50, `mixed ${index}`));
        enqueued += batch;
        await delay(between(200, 1500));
        const kind = pick(kinds);
        const begun = Date.now();
        const since = performance.now();
        const detail = await inject(kind).catch((error) => `could not: ${error.message}`);
        faults.push({ kind, detail, start: begun, end: Date.now() });
        console.error(
          `chaos: fault ${index + 1} at ${new Date(begun).toISOString()}: ${kind} (${detail})`,
        );
        // Every worker of both supervisors alive again, bounded.
        await waitUntil(async () => {
          for (const supervisor of Object.values(supervisors)) {
            if ((await supervisor.health()).body.workers_alive !== 2) return false;
          }
          return true;
        }, { what: "both pools whole again", timeoutMs: 60_000 }).catch(() => {});
        recoveries.push((performance.now() - since) / 1000);
      }
      await settled(queue, 600_000);
      const recorder = "problem" in disk
        ? undefined
        : new Queue("recorder", { connection: client });
      if (recorder) {
        await waitUntil(async () => {
          const counts = await recorder.getJobCounts("waiting", "active", "delayed", "prioritized");
          return Object.values(counts).every((count) => count === 0);
        }, { what: "every result recorded", timeoutMs: 300_000 }).catch(() => {});
      }
      for (const supervisor of Object.values(supervisors)) {
        restarts += await restartsOf(supervisor);
        await stop(supervisor);
      }

      // Each job that ran again is explained by a fault that overlapped its earlier run.
      const explainedBy = new Map<string, number>();
      const unexplained: string[] = [];
      for (const jobId of tracked.rerun()) {
        const times = tracked.starts.get(jobId)!;
        for (let run = 1; run < times.length; run++) {
          const overlapping = faults.filter((fault) =>
            fault.start <= times[run] && fault.end >= times[run - 1] - 1000
          );
          const reason = overlapping.findLast((fault) => EXPLAINS_A_RERUN.includes(fault.kind));
          if (reason) explainedBy.set(reason.kind, (explainedBy.get(reason.kind) ?? 0) + 1);
          else {
            const before = faults.findLast((fault) => fault.start <= times[run]);
            unexplained.push(`${jobId} after ${before?.kind ?? "no fault"}`);
          }
        }
      }
      if (unexplained.length > 0) {
        console.error(`chaos: mixed run: reruns no fault explains: ${unexplained.join(", ")}`);
      }
      let recorded = "";
      let recordedHeld = true;
      if (recorder && !("problem" in disk)) {
        const { files, summarized } = await recordedResults(disk.dir);
        const completedIds = await queue.getRanges(["completed"], 0, -1);
        const missing = completedIds.filter((id) => files.get(id) !== 1).length;
        const recorderFailed = await recorder.getFailedCount();
        // A result whose recorder job failed for good (the disk full past its retries) is not
        // lost: it waits in the recorder's failed list, where an operator requeues it.
        recordedHeld = missing === recorderFailed && summarized === files.size;
        recorded =
          `; recorder: ${missing} results not recorded, ${recorderFailed} in its failed list, summary ${
            summarized === files.size ? "agrees" : `says ${summarized} of ${files.size}`
          }`;
        await recorder.close();
      }
      if (!("problem" in disk)) await disk.unmount();
      const byKind = FAULT_KINDS.map((kind) => [kind, faults.filter((f) => f.kind === kind).length])
        .filter(([, count]) => count !== 0).map(([kind, count]) => `${count} ${kind}`).join(", ");
      const explained = [...explainedBy].map(([kind, count]) => `${count} after ${kind}`).join(
        ", ",
      );
      console.error(`chaos: mixed run faults: ${byKind}`);
      return {
        enqueued,
        restarts,
        rule: `seed ${SEED}; reruns: ${
          explained || "none"
        }; ${unexplained.length} unexplained${recorded}`,
        ruleHeld: unexplained.length === 0 && recordedHeld,
        expectedFailed,
      };
    },
  ),
);

/**
 * Enqueues `jobs` jobs of `latencyMs` and waits until the workers named `worker-<holder>-*` hold
 * them all: `bystander`'s workers are stopped (SIGSTOP) meanwhile, and always continued.
 * Returns their ids; the queue is left running.
 */
async function holdJobs(
  queue: Queue,
  client: Redis,
  options: { holder: string; bystander: Supervisor; jobs: number; latencyMs: number; tag: string },
): Promise<Set<string>> {
  const prefix = `worker-${options.holder}-`;
  await queue.pause();
  await addAll(queue, echoJobs(options.jobs, options.latencyMs, options.tag));
  const bystanderPids = (await options.bystander.health()).body.workers.flatMap((worker) =>
    worker.pid ?? []
  );
  for (const pid of bystanderPids) Deno.kill(pid, "SIGSTOP");
  try {
    await queue.resume();
    await waitUntil(async () => (await activeJobsOf(queue, client, prefix)).size === options.jobs, {
      what: `${options.holder} holding ${options.jobs} jobs`,
      timeoutMs: 30_000,
    });
  } finally {
    await queue.pause();
    for (const pid of bystanderPids) Deno.kill(pid, "SIGCONT");
  }
  const held = await activeJobsOf(queue, client, prefix);
  await queue.resume();
  return held;
}

/**
 * A dead host: `rounds` times, a supervisor holding long jobs is killed with all its workers at
 * once (kill -9 of every process, as `docker kill` does), so no supervisor of its own gives its
 * jobs back, while another supervisor idles beside it. Its jobs come back when their locks lapse
 * and a stalled-job check of the other supervisor's workers finds them (LOCK_DURATION,
 * STALLED_INTERVAL). A recovery is, per job, the seconds from the kill to its next start, read
 * from BullMQ's event stream. Each job runs again exactly once, without spending an attempt.
 */
async function deadHost(
  { redis, queue, recoveries, tracked }: Parameters<Parameters<typeof scenario>[1]>[0],
): Promise<ScenarioResult> {
  const rounds = size(3, 1);
  const jobsPerRound = 8;
  const args = ["--count", "2", "--concurrency", "4"];
  const client = redis.client();
  const survivor = await pool(redis, [...args, "--hostname", "survivor"]);
  const held = new Set<string>();
  for (let round = 0; round < rounds; round++) {
    const doomed = await pool(redis, [...args, "--hostname", `doomed${round}`]);
    const mine = await holdJobs(queue, client, {
      holder: `doomed${round}`,
      bystander: survivor,
      jobs: jobsPerRound,
      latencyMs: size(15_000, 8000),
      tag: `dead host ${round}`,
    });
    const killedAt = Date.now();
    await killWithWorkers(doomed);
    await doomed[Symbol.asyncDispose]();
    const restartedAt = (jobId: string) =>
      (tracked.starts.get(jobId) ?? []).find((time) => time > killedAt);
    await waitUntil(() => [...mine].every((jobId) => restartedAt(jobId) !== undefined), {
      what: "the dead host's jobs to start again elsewhere",
      timeoutMs: 120_000,
      intervalMs: 100,
    });
    for (const jobId of mine) {
      recoveries.push((restartedAt(jobId)! - killedAt) / 1000);
      held.add(jobId);
    }
    await settled(queue, 120_000);
  }
  const restarts = await restartsOf(survivor);
  await stop(survivor);
  const rerun = tracked.rerun();
  const heldJobs = await Promise.all([...held].map((jobId) => queue.getJob(jobId)));
  const onceMore =
    heldJobs.filter((job) =>
      job && tracked.starts.get(job.id!)?.length === 2 && job.attemptsMade === 1 &&
      job.stalledCounter === 1
    ).length;
  return {
    enqueued: rounds * jobsPerRound,
    restarts,
    rule: `${onceMore} of the ${held.size} jobs the dead hosts held started once more elsewhere ` +
      `(stalled once, 1 attempt), ${Math.min(...recoveries).toFixed(1)}-${
        Math.max(...recoveries).toFixed(1)
      } s after the kill; ${rerun.length} ran twice in all`,
    ruleHeld: onceMore === held.size && rerun.every((jobId) => held.has(jobId)),
  };
}
record(await scenario("dead host: kill -9 of every process", deadHost));

/**
 * Partitions of several lengths: a supervisor behind the proxy holds 8 jobs longer than the cut
 * while another idles beside it; every connection of the held one is cut and new ones
 * blackholed for `cutS`, then healed. A job whose lock lapsed during the cut is taken over by
 * the other supervisor while the cut one still runs it: it runs twice. Counts, per length, the
 * held jobs that ran twice; every rerun must be one of them.
 */
async function partitionLengths(
  { redis, queue, tracked }: Parameters<Parameters<typeof scenario>[1]>[0],
): Promise<ScenarioResult> {
  const cuts = SHORT ? [8] : [4, 6, 8, 10, 12, 16];
  const jobsPerCut = 8;
  const args = ["--count", "2", "--concurrency", "4"];
  const client = redis.client();
  await using proxy = startTcpProxy(redis.port);
  const cut = await pool(
    redis,
    [...args, "--hostname", "cut"],
    {},
    `redis://127.0.0.1:${proxy.port}`,
  );
  const whole = await pool(redis, [...args, "--hostname", "whole"]);
  const held = new Set<string>();
  const twiceByCut: string[] = [];
  for (const cutS of cuts) {
    const mine = await holdJobs(queue, client, {
      holder: "cut",
      bystander: whole,
      jobs: jobsPerCut,
      latencyMs: (cutS + 5) * 1000,
      tag: `cut ${cutS} s`,
    });
    proxy.cut("blackhole");
    await delay(cutS * 1000);
    proxy.heal();
    await settled(queue, 120_000);
    for (const jobId of mine) held.add(jobId);
    const twice = [...mine].filter((jobId) => (tracked.starts.get(jobId)?.length ?? 0) > 1).length;
    twiceByCut.push(`${cutS} s: ${twice}/${mine.size}`);
  }
  const restarts = (await restartsOf(cut)) + (await restartsOf(whole));
  await stop(cut);
  await stop(whole);
  const unexplained = tracked.rerun().filter((jobId) => !held.has(jobId));
  return {
    enqueued: cuts.length * jobsPerCut,
    restarts,
    rule: `held jobs that ran twice per cut: ${twiceByCut.join(", ")}${
      unexplained.length > 0 ? ` (and ${unexplained.length} NOT held)` : ""
    }`,
    ruleHeld: unexplained.length === 0,
  };
}
record(await scenario("partitions of several lengths", partitionLengths));

// Redis failovers under load: SENTINEL FAILOVER of a Sentinel setup's master, kill -9 of the
// Cluster master holding {ppr} (testing/failover_load.ts). Replication is asynchronous: what a
// plain producer loses is a figure in the rule; "lost" counts WAIT-acknowledged enqueues lost and
// "dup" jobs completed twice in the surviving history, both of which must stay 0.
async function redisFailoverScenarios(): Promise<Outcome[]> {
  const { runJobsThroughFailover } = await import("../testing/failover_load.ts");
  const { MASTER_NAME, sentinelInstalled, startSentinelSetup } = await import(
    "../testing/redis_sentinel.ts"
  );
  const { startRedisCluster } = await import("../testing/redis_cluster.ts");
  const load = {
    pool: [size(4, 2), 4] as [number, number],
    intervalMs: size(10, 25),
    beforeMs: size(5000, 2000),
    afterMs: size(8000, 3000),
  };
  const outcomeOf = (
    name: string,
    figures: Awaited<ReturnType<typeof runJobsThroughFailover>>,
  ): Outcome => ({
    scenario: name,
    enqueued: figures.added,
    completed: figures.completed,
    failed: figures.failed.length,
    lost: figures.lostAcknowledged.length,
    duplicates: figures.completedTwiceSurviving.length,
    ranTwice: figures.completedTwiceSeen.length,
    recoveryMedianS: figures.gapS,
    recoveryMaxS: figures.gapS,
    restarts: 0,
    rule: `${figures.lost.length} of ${figures.added} added lost (${figures.acknowledged} ` +
      `WAIT-acknowledged, none of them may be), ${figures.addErrors} adds failed, ` +
      `${figures.completedTwiceSeen.length} completions lost and run again, the pool working after`,
    ruleHeld: figures.unfinished.length === 0 && figures.completedAfterFault > 0,
    expectedFailed: 0,
  });
  const empty = (name: string): Outcome => ({
    scenario: name,
    enqueued: 0,
    completed: 0,
    failed: 0,
    lost: 0,
    duplicates: 0,
    ranTwice: 0,
    recoveryMedianS: null,
    recoveryMaxS: null,
    restarts: 0,
    rule: "-",
    ruleHeld: false,
    expectedFailed: 0,
  });
  /** Runs one failover scenario; a scenario that throws is a broken row, not the end of the run. */
  const run = async (name: string, body: () => Promise<Outcome>): Promise<Outcome[]> => {
    if (ONLY !== undefined && !name.includes(ONLY)) return [];
    console.error(`chaos: ${name} ...`);
    try {
      return [await body()];
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return [{ ...empty(name), rule: `the scenario itself failed: ${reason}` }];
    }
  };
  const sentinelName = "Redis Sentinel failover under load";
  const sentinel = await run(sentinelName, async () => {
    if (!await sentinelInstalled()) {
      return { ...empty(sentinelName), ruleHeld: true, skipped: "redis-sentinel is not installed" };
    }
    await using setup = await startSentinelSetup();
    const successor = await setup.replica();
    return outcomeOf(
      sentinelName,
      await runJobsThroughFailover({
        redisUrl: setup.url,
        prefix: "bull",
        poolEnv: { REDIS_WAIT_REPLICAS: "1", REDIS_WAIT_TIMEOUT: "500ms" },
        ...load,
        fault: async () => {
          await setup.sentinelClient(0).call("SENTINEL", "FAILOVER", MASTER_NAME);
          await setup.waitForMaster(successor);
        },
      }),
    );
  });
  const clusterName = "Redis Cluster master kill under load";
  const cluster = await run(clusterName, async () => {
    await using setup = await startRedisCluster();
    const master = await setup.masterOf("{ppr}:llm:meta");
    const successor = await setup.replicaOf(master);
    return outcomeOf(
      clusterName,
      await runJobsThroughFailover({
        redisUrl: setup.url,
        prefix: "{ppr}",
        poolEnv: { REDIS_WAIT_REPLICAS: "1", REDIS_WAIT_TIMEOUT: "500ms" },
        ...load,
        fault: async () => {
          await master.stop("SIGKILL");
          await setup.waitForMaster(successor);
        },
        afterFault: () => master.start(),
      }),
    );
  });
  const outcomes = [...sentinel, ...cluster];
  return outcomes;
}
(await redisFailoverScenarios()).forEach(record);

// The table, the file, the verdict.
const columns = [
  "scenario",
  "enqueued",
  "completed",
  "failed",
  "lost",
  "dup",
  "ran twice",
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
  String(outcome.ranTwice),
  outcome.recoveryMedianS === null ? "-" : outcome.recoveryMedianS.toFixed(2),
  outcome.recoveryMaxS === null ? "-" : outcome.recoveryMaxS.toFixed(2),
  String(outcome.restarts),
  outcome.skipped
    ? `skipped: ${outcome.skipped}`
    : `${outcome.ruleHeld ? "ok" : "BROKEN"}: ${outcome.rule}`,
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
  !outcome.skipped &&
  (outcome.lost !== 0 || outcome.duplicates !== 0 || !outcome.ruleHeld ||
    outcome.failed !== outcome.expectedFailed)
);
for (const outcome of outcomes) {
  const verdict = broken.includes(outcome) ? "FAILED" : outcome.skipped ? "skipped" : "ok";
  console.log(`chaos: ${outcome.scenario} ... ${verdict}`);
}
console.log(`chaos: ${outcomes.length - broken.length} passed, ${broken.length} failed`);
Deno.exit(broken.length === 0 ? 0 : 1);
