/**
 * The batch lane against the direct lane, with the Claude API's stubs (Messages and Message
 * Batches): what the same jobs cost in each at the stub's token counts and the shipped prices,
 * the Redis commands per job of each, how often a worker takes a batch job; then many jobs in a
 * batch queue through a fleet whose supervisors are stopped while batches are open (SIGTERM,
 * then kill -9 of their process groups) and a fresh one that finishes them. Part of
 * `deno task bench`.
 */

import { type Job, Queue, QueueEvents } from "bullmq";
import type { Redis } from "ioredis";
import { BATCH_PRICE_SHARE, costOf, priceOf, SHIPPED_PRICES } from "../economics/prices.ts";
import { BATCH_PREFIX, COLLECTING_KEY, listBatches, OPEN_KEY } from "../jobs/batch/store.ts";
import type { Usage } from "../providers/provider.ts";
import type { Supervisor } from "../testing/ppr.ts";
import { batchesPerPrompt } from "../testing/batch_lane.ts";
import { claudeApiEnv } from "../testing/stub_message_batches.ts";
import { startStubClaudeApi, type StubClaudeApi } from "../testing/stub_claude_api.ts";
import { waitUntil } from "../testing/wait.ts";
import { delay } from "../async/mod.ts";
import type { Record as RecordRow } from "./claude_cli.ts";
import { commandsBetween, type CommandWatch, type Pools, watchCommands } from "./economics.ts";
import { tcpPortsOf } from "./proc.ts";

/** Jobs sent through each lane for the cost and the commands (`BENCH_BATCH_JOBS`). */
const JOBS = Number(Deno.env.get("BENCH_BATCH_JOBS") ?? 1000);
/** Jobs of each run through stopped supervisors (`BENCH_BATCH_SCALE_JOBS`). */
const SCALE_JOBS = Number(Deno.env.get("BENCH_BATCH_SCALE_JOBS") ?? 10_000);
/** `BATCH_MAX_JOBS` of every run: the shipped default. */
const BATCH_MAX_JOBS = 1000;
/** How long the stub keeps a batch `in_progress` in the runs through stopped supervisors. */
const SCALE_PROCESSING_MS = 20_000;
/** The longest wait for the jobs of one run to finish; what is left then is reported as stuck. */
const FINISH_TIMEOUT_MS = 900_000;
/** Jobs read from Redis at once. */
const PAGE = 1000;

/** A job of the bench: a page of a directory to turn into a record, each page its own. */
const promptOf = (index: number) =>
  `Page ${index}: Community pantry, 12 Mill Road, open Tuesday and Thursday 10-14; ` +
  `bring proof of address. Return the name, the address and the opening hours.`;

/** The two lanes: the direct one, and the batch one by `LLM_BATCH_QUEUES`. */
type Lane = "direct" | "batch";

/** Adds `count` jobs of `promptOf` to `queue`, kept when they finish (their results are read). */
async function addJobs(queue: Queue, count: number): Promise<void> {
  for (let from = 0; from < count; from += PAGE) {
    await queue.addBulk(
      Array.from({ length: Math.min(PAGE, count - from) }, (_, index) => ({
        name: "llm",
        data: { prompt: promptOf(from + index) },
      })),
    );
  }
}

/**
 * Removes every key of the batch lane, so that what a run leaves there (outcomes of job ids
 * the next run's queue gives again) cannot reach the next one.
 */
async function clearBatchLane(client: Redis): Promise<void> {
  const keys = [];
  let cursor = "0";
  do {
    const [next, found] = await client.scan(cursor, "MATCH", `${BATCH_PREFIX}*`, "COUNT", 1000);
    keys.push(...found);
    cursor = next;
  } while (cursor !== "0");
  for (let from = 0; from < keys.length; from += PAGE) {
    await client.del(...keys.slice(from, from + PAGE));
  }
}

/** Every job of `queue` in `state`, read a page at a time. */
async function jobsIn(queue: Queue, state: "completed" | "failed"): Promise<Job[]> {
  const jobs: Job[] = [];
  for (let from = 0;; from += PAGE) {
    const page = await queue.getJobs([state], from, from + PAGE - 1, true);
    jobs.push(...page.filter((job) => job !== undefined));
    if (page.length < PAGE) return jobs;
  }
}

/** What the completed jobs of a lane cost, by their `cost_usd`, and what their tokens cost directly. */
interface Costs {
  jobs: number;
  /** The sum of their `cost_usd`. */
  costUsd: number;
  /** Their tokens at the direct price (`economics/prices.json`). */
  directPriceUsd: number;
  /** Jobs whose `cost_usd` is their tokens at the lane's price, to the last digit. */
  atLanePrice: number;
  inputTokens: number;
  outputTokens: number;
  models: Set<string>;
}

/** Sums the cost and tokens of `jobs`, and checks each one's cost against its lane's price. */
function costsOf(jobs: Job[], lane: Lane): Costs {
  const costs: Costs = {
    jobs: jobs.length,
    costUsd: 0,
    directPriceUsd: 0,
    atLanePrice: 0,
    inputTokens: 0,
    outputTokens: 0,
    models: new Set(),
  };
  for (const job of jobs) {
    const { cost_usd: costUsd, usage, model } = job.returnvalue as {
      cost_usd: number;
      usage: Usage;
      model: string;
    };
    const price = priceOf(SHIPPED_PRICES, "claude", model);
    if (!price) throw new Error(`claude/${model} has no price in economics/prices.json`);
    const multiplier = lane === "batch" ? BATCH_PRICE_SHARE : 1;
    costs.costUsd += costUsd;
    costs.directPriceUsd += costOf(usage, price);
    if (costUsd === costOf(usage, price, { multiplier })) costs.atLanePrice++;
    costs.inputTokens += usage.input_tokens + (usage.cache_creation_input_tokens ?? 0) +
      (usage.cache_read_input_tokens ?? 0);
    costs.outputTokens += usage.output_tokens;
    costs.models.add(model);
  }
  return costs;
}

/** How many jobs a worker took how many times (BullMQ's `attemptsStarted`), as `2 x 998, 3 x 2`. */
function takesOf(jobs: Job[]): { mean: number; spread: string } {
  const byTakes = new Map<number, number>();
  for (const job of jobs) {
    byTakes.set(job.attemptsStarted, (byTakes.get(job.attemptsStarted) ?? 0) + 1);
  }
  const total = jobs.reduce((sum, job) => sum + job.attemptsStarted, 0);
  const spread = [...byTakes].sort(([a], [b]) => a - b)
    .map(([takes, count]) => `${takes} x ${count}`).join(", ");
  return { mean: total / jobs.length, spread: `${spread} (takes x jobs)` };
}

/** What one lane's run measured. */
interface LaneRun {
  costs: Costs;
  failed: number;
  takes: { mean: number; spread: string };
  /** Requests the provider received for the jobs: Messages calls, or requests in batches. */
  providerRequests: number;
  batches: number;
  seconds: number;
  /** Per job: the worker's commands, the supervisor's, and all that Redis ran for both. */
  worker: { sent: number; roundTrips: number; inScripts: number };
  supervisor: { sent: number; roundTrips: number; inScripts: number };
  ran: number;
}

/** What the lanes' runs share: the pools, Redis, the queue, the command watch and the stubs. */
interface LaneBench {
  pools: Pools;
  redis: { port: number };
  client: Redis;
  queue: Queue;
  watch: CommandWatch;
  api: StubClaudeApi;
}

/**
 * Runs `JOBS` jobs through a fresh pool of one worker at concurrency 1, in `lane`, and counts
 * the Redis commands of its supervisor (the batch desk's included) and of its worker. The jobs
 * are added while the queue is paused; the counted window runs from the resume to the last job
 * finished.
 */
async function runLane(lane: Lane, bench: LaneBench): Promise<LaneRun> {
  const { pools, redis, client, queue, watch, api } = bench;
  await queue.pause();
  await addJobs(queue, JOBS);
  const messagesBefore = api.messages.jobRequests().length;
  const batchesBefore = api.batches.batches().length;
  const env = {
    ...claudeApiEnv(api.url),
    // One full batch of the 1,000 jobs; a rest of BENCH_BATCH_JOBS goes after a minute.
    BATCH_MAX_JOBS: String(BATCH_MAX_JOBS),
    BATCH_MAX_WAIT: "1m",
    ...(lane === "batch" ? { LLM_BATCH_QUEUES: queue.name } : {}),
  };
  const supervisor = await pools.start(["--count", "1", "--concurrency", "1"], env);
  try {
    const pids = [supervisor.pid, (await supervisor.health()).body.workers[0].pid!];
    await delay(500); // the processes' start-up commands, not counted
    const ports = pids.map((pid) => tcpPortsOf(pid, redis.port));
    const before = await watch.snapshot();
    const started = performance.now();
    await queue.resume();
    await waitUntil(async () => {
      const counts = await queue.getJobCounts("completed", "failed");
      return counts.completed + counts.failed >= JOBS;
    }, { what: `${JOBS} jobs in the ${lane} lane`, timeoutMs: 600_000, intervalMs: 100 });
    const seconds = (performance.now() - started) / 1000;
    const after = await watch.snapshot();
    // Connections opened during the run count too.
    pids.forEach((pid, index) =>
      tcpPortsOf(pid, redis.port).forEach((port) => ports[index].add(port))
    );
    const [supervisorPorts, workerPorts] = ports;
    const all = new Set([...supervisorPorts, ...workerPorts]);
    const { ran } = commandsBetween(watch, before, after, all, JOBS / 100);
    const perJob = (ports: Set<number>) => {
      const counts = watch.between(before, after, ports);
      return {
        sent: counts.sent / JOBS,
        roundTrips: (counts.sent - counts.inTransactions) / JOBS,
        inScripts: counts.inScripts / JOBS,
      };
    };
    const completed = await jobsIn(queue, "completed");
    const failed = (await queue.getJobCounts("failed")).failed;
    const batches = api.batches.batches().slice(batchesBefore);
    return {
      costs: costsOf(completed, lane),
      failed,
      takes: takesOf(completed),
      providerRequests: lane === "batch"
        ? batches.reduce((sum, batch) => sum + batch.requests.length, 0)
        : api.messages.jobRequests().length - messagesBefore,
      batches: batches.length,
      seconds,
      worker: perJob(workerPorts),
      supervisor: perJob(supervisorPorts),
      ran: ran / JOBS,
    };
  } finally {
    await pools.stop(supervisor);
    await queue.obliterate({ force: true });
    await clearBatchLane(client);
  }
}

const usd = (value: number) => `$${value.toFixed(6)}`;
const figures = (value: number) => value.toFixed(2);

/** The same jobs through the direct lane, then the batch lane: cost, commands, takes. */
async function lanes(
  record: RecordRow,
  pools: Pools,
  redis: { port: number; client(): Redis },
) {
  await using api = startStubClaudeApi();
  // MONITOR first: ioredis takes a command's line that arrives with MONITOR's OK for a reply.
  const watch = await watchCommands(redis.client());
  const client = redis.client();
  const queue = new Queue("llm", { connection: client });
  queue.on("error", () => {});
  const runs = new Map<Lane, LaneRun>();
  try {
    for (const lane of ["direct", "batch"] as const) {
      runs.set(lane, await runLane(lane, { pools, redis, client, queue, watch, api }));
    }
  } finally {
    watch.stop();
    await queue.close();
  }
  const what = `${JOBS} jobs, 1 worker x 1`;
  for (const [lane, run] of runs) {
    const { costs } = run;
    if (run.failed > 0 || costs.jobs !== JOBS) {
      throw new Error(
        `${lane} lane: ${costs.jobs} of ${JOBS} jobs completed, ${run.failed} failed`,
      );
    }
    record(
      "batch",
      `${lane} lane: cost per 1,000 jobs`,
      (costs.costUsd / costs.jobs) * 1000 * 100,
      "cents",
      `${usd(costs.costUsd)} for ${what}; ${[...costs.models].join(", ")} at ` +
        `economics/prices.json; ${costs.inputTokens} input, ${costs.outputTokens} output tokens; ` +
        `${costs.atLanePrice} of ${costs.jobs} at the ${lane} price; ` +
        `${run.providerRequests} requests to the provider` +
        (lane === "batch" ? ` in ${run.batches} batch(es)` : ""),
    );
  }
  const direct = runs.get("direct")!;
  const batch = runs.get("batch")!;
  const sameTokens = direct.costs.inputTokens === batch.costs.inputTokens &&
    direct.costs.outputTokens === batch.costs.outputTokens;
  record(
    "batch",
    "batch / direct cost, same jobs",
    batch.costs.costUsd / direct.costs.costUsd,
    "x",
    `${(batch.costs.costUsd / direct.costs.costUsd).toFixed(6)}; ` +
      (sameTokens
        ? "the same tokens in both lanes"
        : `the tokens differ: input ${batch.costs.inputTokens} against ` +
          `${direct.costs.inputTokens}, output ${batch.costs.outputTokens} against ` +
          `${direct.costs.outputTokens}; at the batch lane's own tokens, ` +
          `${(batch.costs.costUsd / batch.costs.directPriceUsd).toFixed(6)}`),
  );
  for (const [lane, run] of runs) {
    const how = `${what}, ${run.seconds.toFixed(1)} s; round trips ${
      figures(run.worker.roundTrips)
    } (a MULTI block is one); its scripts ran ${figures(run.worker.inScripts)}`;
    record(
      "batch",
      `${lane} lane: Redis commands the worker sends per job`,
      run.worker.sent,
      "commands",
      how,
    );
    record(
      "batch",
      `${lane} lane: Redis commands the supervisor sends per job`,
      run.supervisor.sent,
      "commands",
      `round trips ${figures(run.supervisor.roundTrips)}; its scripts ran ${
        figures(run.supervisor.inScripts)
      }; ${lane === "batch" ? "the batch desk's work and " : ""}its probes, queue figures` +
        ` and desk ticks over ${run.seconds.toFixed(1)} s`,
    );
    record(
      "batch",
      `${lane} lane: Redis commands run per job, both processes, scripts' commands included`,
      run.ran,
      "commands",
      "INFO commandstats, less the bench's own commands",
    );
  }
  record(
    "batch",
    "batch lane: times a worker takes a job",
    batch.takes.mean,
    "takes",
    `BullMQ's attemptsStarted: ${batch.takes.spread}; direct lane: ${direct.takes.spread}`,
  );
}

/** How the supervisors of a run through stopped supervisors are stopped. */
type Stop = "SIGTERM" | "kill -9";

/** Where the jobs of a run stood when its supervisors were stopped. */
interface StoppedAt {
  /** Batches the provider had, and those of them not ended. */
  submitted: number;
  inProgress: number;
  seconds: number;
  completed: number;
  collecting: number;
  openBatches: number;
  delayed: number;
  active: number;
  waiting: number;
}

/**
 * `SCALE_JOBS` jobs in a queue in `LLM_BATCH_QUEUES`, with `BATCH_MAX_JOBS` 1,000 and their
 * results routed to `results`, through two supervisors (one worker of concurrency 8 each). While
 * batches are open, both are stopped (`stop`), then a fresh one finishes the jobs; every job is
 * checked to have completed once, at the batch price, with its result routed once.
 */
async function survive(
  record: RecordRow,
  pools: Pools,
  redis: { client(): Redis },
  stop: Stop,
) {
  await using api = startStubClaudeApi({ batches: { processingMs: SCALE_PROCESSING_MS } });
  const client = redis.client();
  const queue = new Queue("llm", { connection: client });
  const results = new Queue("results", { connection: client });
  // Followed live, not read back from the stream (`eventCounts`): the stream keeps about 10,000
  // entries, and 10,000 jobs make several each.
  const events = new QueueEvents("llm", { connection: redis.client() });
  const resultEvents = new QueueEvents("results", { connection: redis.client() });
  for (const each of [queue, results]) each.on("error", () => {});
  for (const each of [events, resultEvents]) each.on("error", () => {});
  const completions = new Map<string, number>();
  events.on("completed", ({ jobId }) => completions.set(jobId, (completions.get(jobId) ?? 0) + 1));
  let duplicateRoutes = 0;
  resultEvents.on("duplicated", () => duplicateRoutes++);
  await Promise.all([events.waitUntilReady(), resultEvents.waitUntilReady()]);
  const env = {
    ...claudeApiEnv(api.url),
    LLM_BATCH_QUEUES: "llm",
    LLM_RESULT_QUEUES: "results",
    BATCH_MAX_JOBS: String(BATCH_MAX_JOBS),
    BATCH_MAX_WAIT: "5s",
    BATCH_POLL_INTERVAL: "2s",
  };
  const detached = stop === "kill -9";
  const fleet: Supervisor[] = [];
  let fresh: Supervisor | undefined;
  try {
    await queue.pause();
    await addJobs(queue, SCALE_JOBS);
    for (const hostname of ["bench-a", "bench-b"]) {
      const args = ["--count", "1", "--concurrency", "8", "--hostname", hostname];
      fleet.push(await pools.start(args, env, { detached }));
    }
    const started = performance.now();
    await queue.resume();
    const stoppedAt = await stopPoint(queue, client, api, stop, started);
    if (stop === "SIGTERM") {
      await Promise.all(fleet.map((supervisor) => pools.stop(supervisor)));
    } else {
      for (const supervisor of fleet) Deno.kill(-supervisor.pid, "SIGKILL");
      await Promise.all(fleet.map((supervisor) => supervisor.exited));
    }
    // Paused while the fresh one starts, so that its worker is idle when the bench sees it ready.
    await queue.pause();
    fresh = await pools.start(
      ["--count", "1", "--concurrency", "8", "--hostname", "bench-a"],
      env,
    );
    await queue.resume();
    const freshReadyS = (performance.now() - started) / 1000;
    const finished = await waitUntil(async () => {
      const counts = await queue.getJobCounts("completed", "failed");
      return counts.completed + counts.failed >= SCALE_JOBS;
    }, { what: `${SCALE_JOBS} jobs`, timeoutMs: FINISH_TIMEOUT_MS, intervalMs: 500 })
      .then(() => true, () => false);
    const seconds = (performance.now() - started) / 1000;
    await delay(1000); // the last completions' events
    await report(record, {
      stop,
      stoppedAt,
      seconds,
      freshReadyS,
      finished,
      queue,
      results,
      client,
      api,
      completions,
      duplicateRoutes,
    });
  } finally {
    for (const supervisor of [...fleet, ...(fresh ? [fresh] : [])]) {
      await supervisor[Symbol.asyncDispose]();
    }
    await Promise.allSettled([events.close(), resultEvents.close()]);
    await queue.obliterate({ force: true });
    await results.obliterate({ force: true });
    await clearBatchLane(client);
    await Promise.allSettled([queue.close(), results.close()]);
  }
}

/**
 * Waits for the moment to stop the fleet: for SIGTERM, a third of the batches submitted (none
 * has ended: a batch is in progress for `SCALE_PROCESSING_MS`); for kill -9, a fifth of the jobs
 * completed and workers holding jobs (the later batches still open, as the stop's row shows).
 */
async function stopPoint(
  queue: Queue,
  client: Redis,
  api: StubClaudeApi,
  stop: Stop,
  started: number,
): Promise<StoppedAt> {
  const batches = Math.ceil(SCALE_JOBS / BATCH_MAX_JOBS);
  await waitUntil(async () => {
    if (stop === "SIGTERM") return api.batches.batches().length >= Math.ceil(batches / 3);
    // At a moment workers hold jobs, if one comes before half the jobs are done.
    const { completed, active } = await queue.getJobCounts("completed", "active");
    return completed >= SCALE_JOBS / 5 && (active > 0 || completed >= SCALE_JOBS / 2);
  }, { what: `the moment to stop the fleet (${stop})`, timeoutMs: 600_000, intervalMs: 100 });
  const counts = await queue.getJobCounts("completed", "delayed", "active", "waiting");
  const provider = api.batches.batches();
  return {
    submitted: provider.length,
    inProgress: provider.filter((batch) => batch.batch.processing_status !== "ended").length,
    seconds: (performance.now() - started) / 1000,
    completed: counts.completed,
    collecting: await client.zcard(COLLECTING_KEY),
    openBatches: await client.zcard(OPEN_KEY),
    delayed: counts.delayed,
    active: counts.active,
    waiting: counts.waiting,
  };
}

/** Checks and records a run through stopped supervisors. */
async function report(record: RecordRow, run: {
  stop: Stop;
  stoppedAt: StoppedAt;
  seconds: number;
  /** When the fresh supervisor was ready, from the resume. */
  freshReadyS: number;
  finished: boolean;
  queue: Queue;
  results: Queue;
  client: Redis;
  api: StubClaudeApi;
  completions: Map<string, number>;
  duplicateRoutes: number;
}) {
  const { stop, stoppedAt, queue, results, api } = run;
  const label = `${SCALE_JOBS} jobs, ${stop}`;
  const completed = await jobsIn(queue, "completed");
  const failed = await jobsIn(queue, "failed");
  const left = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
  const stuck = Object.values(left).reduce((sum, count) => sum + count, 0);
  const routedIds = await results.getRanges(
    ["waiting", "active", "completed", "failed", "delayed", "prioritized"],
    0,
    -1,
  );
  const distinctRouted = new Set(routedIds);
  const completedIds = new Set(completed.map((job) => `llm-${job.id}`));
  const routedOfCompleted = [...distinctRouted].filter((id) => completedIds.has(id)).length;
  const completedTwice = [...run.completions.values()].filter((count) => count > 1).length;
  // The provider's side: how often each job's request was sent, in which batches.
  const batches = api.batches.batches();
  // Each job's prompt is its own.
  const sent = batchesPerPrompt(api.batches);
  const requests = batches.reduce((sum, batch) => sum + batch.requests.length, 0);
  const bySize = new Map<number, number>();
  for (const { requests } of batches) {
    bySize.set(requests.length, (bySize.get(requests.length) ?? 0) + 1);
  }
  const sizes = [...bySize].sort(([a], [b]) => b - a).map(([size, count]) => `${size} x ${count}`);
  const sentTwice = [...sent.values()].filter((count) => count > 1).length;
  const fleetBatches = await listBatches(run.client, { recent: 10_000 });
  const costs = costsOf(completed, "batch");
  const takes = takesOf(completed);
  const at = stoppedAt;
  record(
    "batch",
    `${label}: jobs`,
    SCALE_JOBS,
    "jobs",
    `2 supervisors x 1 worker x 8, BATCH_MAX_JOBS=${BATCH_MAX_JOBS}, batches in_progress ` +
      `${SCALE_PROCESSING_MS / 1000} s; stopped at ${at.seconds.toFixed(1)} s with ` +
      `${at.submitted} batch(es) submitted, ${at.inProgress} in progress, ${at.openBatches} ` +
      `open in the fleet's records, ${at.collecting} job(s) collecting, ${at.completed} ` +
      `completed, ${at.delayed} delayed, ${at.active} active, ${at.waiting} waiting`,
  );
  record(
    "batch",
    `${label}: batches`,
    batches.length,
    "batches",
    `at the provider, ${requests} requests (requests x batches: ${sizes.join(", ")}); ` +
      `the fleet's records: ${fleetBatches.recent.length} ` +
      `done, ${fleetBatches.open.length} open; jobs sent twice: ${sentTwice}, never: ` +
      `${SCALE_JOBS - sent.size}`,
  );
  record(
    "batch",
    `${label}: wall time`,
    run.seconds,
    "s",
    `from the resume to the last job finished, the stop and the fresh supervisor's start ` +
      `included; the fresh one ready at ${run.freshReadyS.toFixed(1)} s${
        run.finished ? "" : `; NOT finished after ${FINISH_TIMEOUT_MS / 1000} s`
      }`,
  );
  record(
    "batch",
    `${label}: completed`,
    completed.length,
    "jobs",
    `completed events: ${run.completions.size} jobs, ${completedTwice} of them twice`,
  );
  record(
    "batch",
    `${label}: failed`,
    failed.length,
    "jobs",
    failed.length > 0 ? `first reason: ${failed[0].failedReason}` : undefined,
  );
  if (stuck > 0) {
    record("batch", `${label}: stuck`, stuck, "jobs", JSON.stringify(left));
  }
  record(
    "batch",
    `${label}: results routed`,
    routedIds.length,
    "jobs",
    `to the queue results; routings refused as duplicates (a retried hand-off): ${run.duplicateRoutes}`,
  );
  record(
    "batch",
    `${label}: distinct routed ids`,
    distinctRouted.size,
    "ids",
    `${routedOfCompleted} of them llm-<id> of a completed job`,
  );
  record("batch", `${label}: times a worker took a job`, takes.mean, "takes", takes.spread);
  record(
    "batch",
    `${label}: cost`,
    costs.costUsd * 100,
    "cents",
    `${usd(costs.costUsd)}; the same tokens at the direct price ${usd(costs.directPriceUsd)}; ` +
      `${costs.atLanePrice} of ${costs.jobs} jobs at the batch price`,
  );
  record(
    "batch",
    `${label}: cost / direct price`,
    costs.costUsd / costs.directPriceUsd,
    "x",
    (costs.costUsd / costs.directPriceUsd).toFixed(6),
  );
}

/** Runs the batch lane part of the benchmark. */
export async function benchBatch(
  record: RecordRow,
  redis: { port: number; client(): Redis },
  pools: Pools,
) {
  await lanes(record, pools, redis);
  for (const stop of ["SIGTERM", "kill -9"] as const) await survive(record, pools, redis, stop);
}
