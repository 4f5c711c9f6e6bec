/**
 * `deno task bench`: ppr-worker against its baselines, side by side, in one run on one machine.
 * Prints a table and, after a full run (no `BENCH_ONLY`), writes bench/results/latest.json; the
 * batch, tracing and scale sections, whenever they run, write bench/results/batch.json,
 * tracing.json and scale.json.
 * Starts its own redis-server.
 */

import { Queue, QueueEvents } from "bullmq";
import { startRedis } from "../testing/redis.ts";
import { startSupervisor, type Supervisor } from "../testing/ppr.ts";
import { startStubLlm } from "../testing/stub_llm.ts";
import { waitUntil } from "../testing/wait.ts";
import { delay } from "../async/mod.ts";
import {
  installNodeBaseline,
  nodeWorkers,
  plainWorkers as plainWorkersOf,
  rqBaseline,
  stopAll,
} from "./baselines.ts";
import { benchClaudeCli } from "./claude_cli.ts";
import { cpuOf, memoryOf } from "./proc.ts";
import { benchClaudeCliFloor } from "./claude_cli_floor.ts";
import { findRealClaudeCli } from "../testing/real_claude.ts";
import { benchProcessors } from "./processors.ts";
import { benchEconomics } from "./economics.ts";
import { benchBatch } from "./batch.ts";
import { benchLocks } from "./locks.ts";
import { benchTracing } from "./tracing.ts";
import { benchScale } from "./scale.ts";
import { benchRoundTrips } from "./roundtrips.ts";

const JOBS = Number(Deno.env.get("BENCH_JOBS") ?? 5000);
const GROWTH_JOBS = Number(Deno.env.get("BENCH_GROWTH_JOBS") ?? 2000);
const LATENCY_MS = 500;
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 20);
/** The sections to run (`deno task bench throughput cli`, or `BENCH_ONLY=throughput,cli`); all by default. */
const SECTIONS = [
  "throughput",
  "latency",
  "pool",
  "growth",
  "cli",
  "metrics",
  "processors",
  "economics",
  "batch",
  "locks",
  "tracing",
  "scale",
  "roundtrips",
];
const only = (Deno.args.length > 0 ? Deno.args : Deno.env.get("BENCH_ONLY")?.split(","))
  ?.map((name) => name.trim()).filter(Boolean);
for (const name of only ?? []) {
  if (!SECTIONS.includes(name)) {
    console.error(
      `${Deno.args.length > 0 ? "deno task bench" : "BENCH_ONLY"}: unknown section ${name}; ` +
        `the sections are ${SECTIONS.join(", ")}`,
    );
    Deno.exit(2);
  }
}
const wanted = (section: string) => !only || only.includes(section);

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function mean(values: number[]): number {
  return sum(values) / values.length;
}

type Row = { group: string; name: string; value: number; unit: string; note?: string };
const rows: Row[] = [];
function record(group: string, name: string, value: number, unit: string, note?: string) {
  rows.push({ group, name, value: Math.round(value * 100) / 100, unit, note });
  console.error(
    `  ${group} | ${name}: ${Math.round(value * 100) / 100} ${unit}${note ? ` (${note})` : ""}`,
  );
}

await using redis = await startRedis();
const client = redis.client();
const queue = new Queue("llm", { connection: client });
queue.on("error", () => {});

function echoJobs(count: number, latencyMs = 0) {
  return Array.from({ length: count }, (_, index) => ({
    name: "llm",
    data: { prompt: `job ${index}`, provider: { name: "echo", latency_ms: latencyMs } },
    opts: { removeOnComplete: true, removeOnFail: true },
  }));
}

/**
 * jobs/s of `jobs` through the workers `start` starts and returns. The jobs are added while the
 * queue is paused, and the workers are ready before it resumes: the measured window runs from
 * the resume to the empty queue, so neither adding the jobs nor start-up counts.
 */
async function drainRate<T>(
  jobs: ReturnType<typeof echoJobs>,
  start: () => Promise<T>,
): Promise<{ rate: number; seconds: number; workers: T }> {
  await queue.pause();
  for (let index = 0; index < jobs.length; index += 1000) {
    await queue.addBulk(jobs.slice(index, index + 1000));
  }
  const workers = await start();
  const started = performance.now();
  await queue.resume();
  await waitUntil(async () => {
    const counts = await queue.getJobCounts(
      "waiting",
      "active",
      "delayed",
      "prioritized",
    );
    return Object.values(counts).every((count) => count === 0);
  }, { what: `${jobs.length} jobs`, timeoutMs: 600_000, intervalMs: 10 });
  const seconds = (performance.now() - started) / 1000;
  return { rate: jobs.length / seconds, seconds, workers };
}

/** N plain worker processes on this run's Redis. */
const plainWorkers = (count: number, concurrency: number, options?: { liteMode?: boolean }) =>
  plainWorkersOf(queue, redis.url, count, concurrency, options);

/** Rounds of the rows that give context (V8 lite mode in plain workers): fewer than the ratio's. */
const CONTEXT_ROUNDS = 3;

/**
 * jobs/s of `CONTEXT_ROUNDS` rounds of `JOBS` jobs, pooled, through the processes `start`
 * starts; `finished` sees them after each round, before they are stopped.
 */
async function roundsOf(
  start: () => Promise<Deno.ChildProcess[]>,
  finished: (children: Deno.ChildProcess[]) => void = () => {},
): Promise<number> {
  let seconds = 0;
  for (let round = 0; round < CONTEXT_ROUNDS; round++) {
    const result = await drainRate(echoJobs(JOBS), start);
    seconds += result.seconds;
    finished(result.workers);
    await stopAll(result.workers);
  }
  return (JOBS * CONTEXT_ROUNDS) / seconds;
}

/** CPU seconds (user + system) of the processes `pids` so far. */
function workersCpu(pids: number[]): number {
  return sum(pids.map((pid) => cpuOf(pid).own));
}

/** Rounds of each contender of the comparison with Node.js, in rotating order. */
const NODE_ROUNDS = Number(Deno.env.get("BENCH_NODE_ROUNDS") ?? 12);

/** 4 worker processes of one kind, started for a round: their pids, and how to stop them. */
interface Contender {
  name: string;
  start(concurrency: number): Promise<{ pids: number[]; stop(): Promise<void> }>;
}

/**
 * ppr-worker in each `V8_MODE` and, with `nodeScript`, Node.js BullMQ: `NODE_ROUNDS` rounds of
 * `JOBS` jobs each, in rotating order, each round on fresh processes; jobs/s pooled over the
 * rounds, the ratios to Node.js, and each worker's memory after its round's jobs.
 */
async function againstNode(concurrency: number, nodeScript: string | undefined): Promise<void> {
  const pprContender = (mode: "lite" | "jit"): Contender => ({
    name: `ppr-worker --count 4, V8_MODE=${mode}`,
    async start(concurrency) {
      const supervisor = await pool(["--count", "4", "--concurrency", String(concurrency)], {
        V8_MODE: mode,
      });
      const pids = (await supervisor.health()).body.workers.map((worker) => worker.pid!);
      return { pids, stop: () => stop(supervisor) };
    },
  });
  const node: Contender = {
    name: "4 Node.js BullMQ processes",
    async start(concurrency) {
      const children = await nodeWorkers(queue, redis.url, nodeScript!, 4, concurrency);
      return { pids: children.map((child) => child.pid), stop: () => stopAll(children) };
    },
  };
  const contenders = [pprContender("lite"), pprContender("jit"), ...(nodeScript ? [node] : [])];
  const seconds = contenders.map(() => [] as number[]);
  const cpuSeconds = contenders.map(() => 0);
  const redisCpuSeconds = contenders.map(() => 0);
  const idle = contenders.map(() => [] as ReturnType<typeof memoryOf>[]);
  const busy = contenders.map(() => [] as ReturnType<typeof memoryOf>[]);
  for (let round = 0; round < NODE_ROUNDS; round++) {
    for (let step = 0; step < contenders.length; step++) {
      const index = (round + step) % contenders.length;
      const result = await drainRate(echoJobs(JOBS), async () => {
        const started = await contenders[index].start(concurrency);
        idle[index].push(...started.pids.map(memoryOf));
        return {
          ...started,
          cpuBefore: workersCpu(started.pids),
          redisCpuBefore: workersCpu([redis.pid!]),
        };
      });
      seconds[index].push(result.seconds);
      cpuSeconds[index] += workersCpu(result.workers.pids) - result.workers.cpuBefore;
      redisCpuSeconds[index] += workersCpu([redis.pid!]) - result.workers.redisCpuBefore;
      busy[index].push(...result.workers.pids.map(memoryOf));
      await result.workers.stop();
    }
  }
  const rates = seconds.map((each) => (JOBS * each.length) / sum(each));
  contenders.forEach((contender, index) =>
    record(
      "throughput",
      `${contender.name}, concurrency ${concurrency}`,
      rates[index],
      "jobs/s",
      `${NODE_ROUNDS} rounds of ${JOBS} jobs, rotating with the others; CPU per job: the ` +
        `workers' ${Math.round((cpuSeconds[index] * 1e6) / (JOBS * NODE_ROUNDS))} us, Redis's ${
          Math.round((redisCpuSeconds[index] * 1e6) / (JOBS * NODE_ROUNDS))
        } us`,
    )
  );
  const nodeIndex = contenders.indexOf(node);
  if (nodeIndex >= 0) {
    for (const index of [0, 1]) {
      const ratios = seconds[index].map((each, round) => seconds[nodeIndex][round] / each);
      record(
        "throughput",
        `${
          contenders[index].name.replace("ppr-worker --count 4, ", "")
        } / Node.js, concurrency ${concurrency}`,
        rates[index] / rates[nodeIndex],
        "x",
        `single rounds ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`,
      );
    }
  }
  contenders.forEach((contender, index) => {
    const worker = contender === node ? "Node.js BullMQ worker" : `${contender.name} worker`;
    record(
      "memory",
      `${worker} RSS after ${JOBS / 4} jobs, concurrency ${concurrency}`,
      mean(busy[index].map((m) => m.rssMb)),
      "MB",
      `PSS ${mean(busy[index].map((m) => m.pssMb)).toFixed(1)} MB, unique (USS) ${
        mean(busy[index].map((m) => m.ussMb)).toFixed(1)
      } MB; idle before: RSS ${mean(idle[index].map((m) => m.rssMb)).toFixed(1)} MB, USS ${
        mean(idle[index].map((m) => m.ussMb)).toFixed(1)
      } MB; mean of 4 x ${NODE_ROUNDS}`,
    );
  });
}

async function pool(
  args: string[],
  env: Record<string, string> = {},
  options: { detached?: boolean } = {},
): Promise<Supervisor> {
  const supervisor = startSupervisor(args, {
    redisUrl: redis.url,
    env: { LOG_LEVEL: "warning", ...env },
    detached: options.detached,
  });
  const count = Number(args[args.indexOf("--count") + 1]);
  // Polled every 20 ms: the start rows read up to one interval late (they read up to 100 ms late
  // with the tests' interval). /health answers from the supervisor's memory.
  await supervisor.waitForHealth(
    (health) =>
      health.workers.length === count && health.workers.every((worker) => worker.state === "idle"),
    "the pool to be ready",
    120_000,
    20,
  );
  return supervisor;
}

async function stop(supervisor: Supervisor) {
  supervisor.signal("SIGTERM");
  await supervisor.waitForExit(60_000);
  await supervisor[Symbol.asyncDispose]();
}

if (wanted("throughput")) {
  // 1. Throughput of no-op (echo) jobs: supervised and plain rounds alternate (the order too), so
  // that drift of a shared machine hits both alike. Each round starts fresh processes, and the
  // speed of a process varies by up to about 8 % from one start to the next (measured here), so
  // many short rounds: each side's rate is its jobs over its measured time, all rounds pooled.
  console.error(`1. throughput, ${JOBS} echo jobs, ${ROUNDS} alternating rounds`);
  const nodeScript = await installNodeBaseline();
  for (const concurrency of [1, 8]) {
    const supervised: number[] = [];
    const plain: number[] = [];
    let supervisorCpuMs = 0;
    // A first round on a fresh Redis runs about 15 % slower (its memory grows): not counted.
    await drainRate(echoJobs(JOBS), () => plainWorkers(4, concurrency))
      .then(({ workers }) => stopAll(workers));
    for (let round = 0; round < ROUNDS; round++) {
      const measureSupervised = async () => {
        const { seconds, workers } = await drainRate(echoJobs(JOBS), async () => {
          const supervisor = await pool(["--count", "4", "--concurrency", String(concurrency)]);
          return { supervisor, cpuBefore: cpuOf(supervisor.pid).own * 1000 };
        });
        supervisorCpuMs += cpuOf(workers.supervisor.pid).own * 1000 - workers.cpuBefore;
        supervised.push(seconds);
        await stop(workers.supervisor);
      };
      const measurePlain = async () => {
        const { seconds, workers } = await drainRate(
          echoJobs(JOBS),
          () => plainWorkers(4, concurrency),
        );
        plain.push(seconds);
        await stopAll(workers);
      };
      if (round % 2 === 0) {
        await measureSupervised();
        await measurePlain();
      } else {
        await measurePlain();
        await measureSupervised();
      }
    }
    const pooledRate = (seconds: number[]) => (JOBS * seconds.length) / sum(seconds);
    const ratios = supervised.map((seconds, index) => plain[index] / seconds);
    record(
      "throughput",
      `ppr-worker --count 4, concurrency ${concurrency}`,
      pooledRate(supervised),
      "jobs/s",
      `${ROUNDS} rounds of ${JOBS} jobs`,
    );
    record(
      "throughput",
      `4 plain worker processes, concurrency ${concurrency}`,
      pooledRate(plain),
      "jobs/s",
      `${ROUNDS} rounds of ${JOBS} jobs`,
    );
    record(
      "throughput",
      `supervised / plain, concurrency ${concurrency}`,
      pooledRate(supervised) / pooledRate(plain),
      "x",
      `single rounds ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`,
    );
    record(
      "throughput",
      `supervisor CPU per job, concurrency ${concurrency}`,
      (supervisorCpuMs * 1000) / (JOBS * ROUNDS),
      "us",
      "the supervisor's own work while its 4 workers run",
    );
    // 2. The fast mode against Node.js: ppr-worker in each V8_MODE and Node.js BullMQ's own
    // Worker, 4 processes each, in rotating order, the same paused-queue rounds.
    await againstNode(concurrency, nodeScript);
    if (concurrency === 1) {
      // What V8's lite mode (no optimising compiler), which ppr-worker runs in, costs and saves.
      for (const liteMode of [true, false]) {
        let busy: ReturnType<typeof memoryOf>[] = [];
        const rate = await roundsOf(
          () => plainWorkers(4, concurrency, { liteMode }),
          (children) => (busy = children.map((child) => memoryOf(child.pid))),
        );
        const how = liteMode ? "with --lite-mode (as shipped)" : "without --lite-mode";
        record(
          "throughput",
          `4 plain worker processes ${how}, concurrency 1`,
          rate,
          "jobs/s",
          `${CONTEXT_ROUNDS} rounds`,
        );
        record(
          "memory",
          `plain worker RSS after ${JOBS / 4} jobs, ${how}`,
          mean(busy.map((m) => m.rssMb)),
          "MB",
        );
      }
    }
  }
  {
    const { rate, workers } = await drainRate(echoJobs(JOBS), () => plainWorkers(1, 32));
    record("throughput", "1 plain process, concurrency 32", rate, "jobs/s");
    await stopAll(workers);
  }
  const rq = await rqBaseline(redis.url);
  if (rq !== undefined) {
    record("throughput", "4 rq worker processes (the RQ setup ppr-worker replaces)", rq, "jobs/s");
  }
}

if (wanted("latency")) {
  // 2. Latency-bound throughput against a stub LLM with 500 ms latency.
  console.error("2. latency-bound throughput");
  {
    await using stub = startStubLlm();
    const slots = 4 * 8;
    const count = slots * 10;
    const jobs = Array.from({ length: count }, (_, index) => ({
      name: "llm",
      data: { prompt: `SLEEP${LATENCY_MS} ${index}` },
      opts: { removeOnComplete: true, removeOnFail: true },
    }));
    // Steady state: the ramp-up and the last round do not count.
    const completed = new QueueEvents("llm", { connection: redis.client() });
    await completed.waitUntilReady();
    const times: number[] = [];
    // Memory of a worker with 8 API calls in flight, sampled halfway, against the same idle.
    let workerPids: number[] = [];
    let idleRss = 0;
    let busyRss = 0;
    completed.on("completed", () => {
      times.push(performance.now());
      if (times.length === count / 2) {
        busyRss = mean(workerPids.map((pid) => memoryOf(pid).rssMb));
      }
    });
    const { rate: wholeRate, workers: supervisor } = await drainRate(
      jobs as ReturnType<typeof echoJobs>,
      async () => {
        const supervisor = await pool(["--count", "4", "--concurrency", "8"], {
          LLM_PROVIDER: "openai",
          OPENAI_API_KEY: "bench",
          OPENAI_BASE_URL: `${stub.url}/v1`,
        });
        workerPids = (await supervisor.health()).body.workers.map((worker) => worker.pid!);
        idleRss = mean(workerPids.map((pid) => memoryOf(pid).rssMb));
        return supervisor;
      },
    );
    await completed.close();
    // From the first completion of the second round to the first of the last: whole rounds, each
    // measured at the same phase, so that the bursts of a round do not bias the rate.
    const [from, to] = [slots, count - slots];
    const rate = (to - from) / ((times[to] - times[from]) / 1000);
    const limit = slots / (LATENCY_MS / 1000);
    record(
      "latency-bound",
      `ppr-worker 4 x 8, ${LATENCY_MS} ms stub LLM, steady state`,
      rate,
      "jobs/s",
      `limit ${limit} jobs/s; ${count} jobs, completions ${from} to ${to}`,
    );
    record("latency-bound", "share of the theoretical limit", rate / limit, "x");
    record(
      "latency-bound",
      "whole run, ramp-up and tail included",
      wholeRate / limit,
      "x",
    );
    record(
      "memory",
      "worker RSS with 8 API calls in flight (OpenAI SDK), mean of 4",
      busyRss,
      "MB",
      `idle before: ${idleRss.toFixed(1)} MB (the SDK loads with the first call)`,
    );
    await stop(supervisor);
  }
}

if (wanted("pool")) {
  // 3. Pickup latency on an idle pool, 4. memory, 5. start and stop.
  console.error("3-5. pickup latency, memory, start and stop");
  for (const count of [4, 20]) {
    const started = performance.now();
    const supervisor = await pool(["--count", String(count)]);
    record(
      "start/stop",
      `start -> ${count} workers ready`,
      (performance.now() - started) / 1000,
      "s",
    );
    const health = (await supervisor.health()).body;
    const workers = health.workers.map((worker) => memoryOf(worker.pid!));
    const sup = memoryOf(supervisor.pid);
    record("memory", `supervisor RSS (--count ${count})`, sup.rssMb, "MB");
    const avg = (key: "rssMb" | "pssMb" | "ussMb") =>
      workers.reduce((sum, each) => sum + each[key], 0) / workers.length;
    record("memory", `idle worker RSS, mean of ${count}`, avg("rssMb"), "MB");
    record("memory", `idle worker unique (USS), mean of ${count}`, avg("ussMb"), "MB");
    record(
      "memory",
      `total PSS, --count ${count} (supervisor + workers)`,
      sup.pssMb + workers.reduce((sum, each) => sum + each.pssMb, 0),
      "MB",
    );
    if (count === 4) {
      const pickups: number[] = [];
      for (let index = 0; index < 200; index++) {
        const job = await queue.add("llm", { prompt: "p", provider: { name: "echo" } });
        await waitUntil(async () => (await job.getState()) === "completed", {
          what: "pickup",
          intervalMs: 2,
        });
        const done = (await queue.getJob(job.id!))!;
        pickups.push(done.processedOn! - done.timestamp);
      }
      pickups.sort((a, b) => a - b);
      record(
        "pickup",
        "enqueue -> processor start, p50",
        pickups[Math.floor(pickups.length * 0.5)],
        "ms",
      );
      record(
        "pickup",
        "enqueue -> processor start, p99",
        pickups[Math.floor(pickups.length * 0.99)],
        "ms",
      );
      // Busy memory: every worker holding 8 slow jobs.
      await queue.addBulk(echoJobs(count * 8, 3000));
      await supervisor.waitForHealth(
        (body) => body.workers.every((worker) => worker.active_jobs >= 1),
        "busy workers",
      );
      const busy = health.workers.map((worker) => memoryOf(worker.pid!));
      record(
        "memory",
        "busy worker RSS, mean of 4",
        busy.reduce((sum, each) => sum + each.rssMb, 0) / busy.length,
        "MB",
      );
      await waitUntil(
        async () => (await queue.getActiveCount()) + (await queue.getWaitingCount()) === 0,
        { what: "slow jobs", timeoutMs: 60_000 },
      );
      // Recovery: kill -9 a worker holding a job; time until that job completed elsewhere.
      const job = await queue.add("llm", {
        prompt: "r",
        provider: { name: "echo", latency_ms: 1000 },
      }, { attempts: 1 });
      const holder = await supervisor.waitForHealth(
        (body) => body.workers.some((worker) => worker.active_jobs === 1),
        "a held job",
      );
      const killedAt = Date.now();
      Deno.kill(holder.workers.find((worker) => worker.active_jobs === 1)!.pid!, "SIGKILL");
      await waitUntil(async () => (await job.getState()) === "completed", {
        what: "the job after kill -9",
        timeoutMs: 60_000,
      });
      record(
        "start/stop",
        "kill -9 of a busy worker -> its job completed elsewhere",
        (Date.now() - killedAt) / 1000,
        "s",
        "job takes 1 s",
      );
      const stopping = performance.now();
      supervisor.signal("SIGTERM");
      await supervisor.waitForExit(60_000);
      record(
        "start/stop",
        "SIGTERM -> exit, no jobs in flight",
        (performance.now() - stopping) / 1000,
        "s",
      );
      await supervisor[Symbol.asyncDispose]();
    } else {
      await stop(supervisor);
    }
  }
  await bundleAgainstModules();
}

/**
 * What the worker bundle saves per start: 4-worker pools started from the bundle and from the
 * modules (its stamp hidden), alternating, `BUNDLE_ROUNDS` each; the median time to every worker
 * idle and the median CPU of a worker up to then.
 */
async function bundleAgainstModules(): Promise<void> {
  const stamp = new URL("../.bundle/current.json", import.meta.url);
  const hidden = new URL("../.bundle/current.json.hidden", import.meta.url);
  if (!(await Deno.stat(stamp).then(() => true, () => false))) {
    console.error("  worker bundle against modules skipped: no worker bundle (deno task bundle)");
    return;
  }
  const BUNDLE_ROUNDS = 6;
  const sides = {
    "the worker bundle": { seconds: [] as number[], cpu: [] as number[] },
    "the modules": { seconds: [] as number[], cpu: [] as number[] },
  };
  try {
    for (let round = 0; round < BUNDLE_ROUNDS; round++) {
      const order = round % 2 === 0
        ? ["the worker bundle", "the modules"] as const
        : ["the modules", "the worker bundle"] as const;
      for (const side of order) {
        if (side === "the modules") await Deno.rename(stamp, hidden);
        try {
          await client.flushall();
          const started = performance.now();
          const supervisor = await pool(["--count", "4"]);
          sides[side].seconds.push((performance.now() - started) / 1000);
          const pids = (await supervisor.health()).body.workers.map((worker) => worker.pid!);
          sides[side].cpu.push(...pids.map((pid) => cpuOf(pid).own));
          await stop(supervisor);
        } finally {
          if (side === "the modules") await Deno.rename(hidden, stamp);
        }
      }
    }
  } finally {
    await Deno.rename(hidden, stamp).catch(() => {});
  }
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  for (const [side, figures] of Object.entries(sides)) {
    record(
      "start/stop",
      `start -> 4 workers ready, workers from ${side}`,
      median(figures.seconds),
      "s",
      `median of ${BUNDLE_ROUNDS}, alternating, single starts ${
        Math.min(...figures.seconds).toFixed(2)
      }-${Math.max(...figures.seconds).toFixed(2)} s; CPU per worker start ${
        Math.round(median(figures.cpu) * 1000)
      } ms (median of ${figures.cpu.length}, ${Math.round(Math.min(...figures.cpu) * 1000)}-${
        Math.round(Math.max(...figures.cpu) * 1000)
      } ms)`,
    );
  }
}

if (wanted("growth")) {
  // 6. Cost growth.
  console.error(`6. cost growth, ${GROWTH_JOBS} echo jobs`);
  for (const count of [1, 2, 4, 8, 16]) {
    const { rate, workers: supervisor } = await drainRate(
      echoJobs(GROWTH_JOBS),
      () => pool(["--count", String(count), "--concurrency", "8"]),
    );
    const health = (await supervisor.health()).body;
    const pss = memoryOf(supervisor.pid).pssMb +
      health.workers.reduce((sum, worker) => sum + memoryOf(worker.pid!).pssMb, 0);
    record("growth", `--count ${count}, concurrency 8: throughput`, rate, "jobs/s");
    record("growth", `--count ${count}: total PSS`, pss, "MB");
    await stop(supervisor);
  }
}

if (wanted("cli")) {
  // 7. The Claude CLI: cold against warm, request sizes, 401 to pause.
  console.error(`7. the Claude CLI: the floor of a call, then as ppr-worker runs it`);
  const cli = (await findRealClaudeCli())?.path;
  if (cli) await benchClaudeCliFloor(record, cli);
  await benchClaudeCli(record, redis);
}

if (wanted("metrics")) {
  // 8. What a /metrics scrape costs the supervisor, with 20 workers and 4 queues.
  console.error("8. /metrics scrape cost");
  {
    const supervisor = await pool(["--count", "20", "--queue", "llm,a,b,c"], {
      QUEUE_PROCESSORS: "a=llm;b=llm;c=llm",
    });
    await delay(2000); // the workers' first figures and the first queue read
    const cpu = () => cpuOf(supervisor.pid).own * 1000;
    const scrapes = 200;
    const idleBefore = cpu();
    await delay(2000);
    const idlePerS = (cpu() - idleBefore) / 2;
    const before = cpu();
    const started = performance.now();
    for (let index = 0; index < scrapes; index++) {
      await (await fetch(`http://127.0.0.1:${supervisor.healthPort}/metrics`)).text();
    }
    const wallS = (performance.now() - started) / 1000;
    const scrapeCpuMs = (cpu() - before - idlePerS * wallS) / scrapes;
    record(
      "metrics",
      "supervisor CPU per /metrics scrape (20 workers, 4 queues)",
      scrapeCpuMs,
      "ms",
    );
    record("metrics", "/metrics response time", (wallS * 1000) / scrapes, "ms");
    await stop(supervisor);
  }
}

if (wanted("processors")) {
  // 9. External processors: a persistent Python process against one Python process per job.
  console.error(`9. external processors`);
  await benchProcessors(record, redis);
}

if (wanted("economics")) {
  // 10. What the ledger and the result cache cost per LLM job; what prompt caching saves.
  console.error("10. LLM economics");
  await benchEconomics(record, redis, { start: pool, stop });
}

/** The rows of the sections that write a results file of their own whenever they run. */
const ownResults = new Map<string, Row[]>();

if (wanted("batch")) {
  // 11. The batch lane: cost and commands against the direct lane; supervisors stopped mid-batch.
  console.error("11. the batch lane");
  const from = rows.length;
  await benchBatch(record, redis, { start: pool, stop });
  ownResults.set("batch", rows.slice(from));
}

if (wanted("locks")) {
  // 12. What BullMQ's job locks cost Redis: renewals per job in flight, stalled-job checks.
  console.error("12. job locks: Redis commands per job in flight");
  await benchLocks(record, redis, queue, { start: pool, stop });
}

if (wanted("tracing")) {
  // 13. What tracing costs per job: off, on, sampled, in alternating rounds.
  console.error("13. tracing: off, on, sampled");
  const from = rows.length;
  await benchTracing(
    record,
    { start: pool, stop },
    (jobs, start) => drainRate(echoJobs(jobs), start),
  );
  ownResults.set("tracing", rows.slice(from));
}

if (wanted("scale")) {
  // 14. The elastic pool: a burst through fixed sizes and --autoscale, drain time and memory.
  console.error("14. scale: a burst through --count 1, --count 8 and --autoscale 1,8");
  const from = rows.length;
  await benchScale(record, queue, { start: pool, stop });
  ownResults.set("scale", rows.slice(from));
}

if (wanted("roundtrips")) {
  // 15. Redis round trips and commands per job of each kind, against plain BullMQ.
  console.error("15. Redis round trips per job");
  await benchRoundTrips(record);
}

await queue.close();

const machine = {
  cores: navigator.hardwareConcurrency,
  deno: Deno.version.deno,
  redis: new TextDecoder().decode(
    (await new Deno.Command("redis-server", { args: ["--version"] }).output()).stdout,
  ).trim(),
  date: new Date().toISOString(),
  jobs: JOBS,
};
await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
// Only a full run replaces the results docs/performance.md's table comes from.
if (!only) {
  await Deno.writeTextFile(
    new URL("./results/latest.json", import.meta.url),
    JSON.stringify({ machine, rows }, null, 2) + "\n",
  );
}
// A section with a page section of its own (the batch lane) keeps its figures apart.
for (const [section, sectionRows] of ownResults) {
  const { jobs: _throughputJobs, ...host } = machine;
  await Deno.writeTextFile(
    new URL(`./results/${section}.json`, import.meta.url),
    JSON.stringify({ machine: host, rows: sectionRows }, null, 2) + "\n",
  );
}

const width = Math.max(...rows.map((row) => `${row.group} | ${row.name}`.length));
console.log(
  `ppr-worker benchmark: ${machine.cores} cores, Deno ${machine.deno}, ${
    machine.redis.split(" ").slice(0, 3).join(" ")
  }\n`,
);
for (const row of rows) {
  console.log(
    `${`${row.group} | ${row.name}`.padEnd(width)}  ${String(row.value).padStart(9)} ${row.unit}${
      row.note ? `  (${row.note})` : ""
    }`,
  );
}
