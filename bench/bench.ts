/**
 * `deno task bench`: ppr-worker against its baselines, side by side, in one run on one machine.
 * Prints a table and writes bench/results/latest.json. Starts its own redis-server.
 */

import { Queue, QueueEvents } from "bullmq";
import { startRedis } from "../testing/redis.ts";
import { baseEnv, pprCommand, startSupervisor, type Supervisor } from "../testing/ppr.ts";
import { startStubLlm } from "../testing/stub_llm.ts";
import { waitUntil } from "../testing/wait.ts";
import { delay } from "../async/mod.ts";
import { benchClaudeCli } from "./claude_cli.ts";
import { benchProcessors } from "./processors.ts";

const JOBS = Number(Deno.env.get("BENCH_JOBS") ?? 5000);
const GROWTH_JOBS = Number(Deno.env.get("BENCH_GROWTH_JOBS") ?? 2000);
const LATENCY_MS = 500;
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
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

function memoryOf(pid: number): { rssMb: number; pssMb: number; ussMb: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const rollup = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(rollup)?.[1] ?? 0);
  return {
    rssMb: rss / 1024,
    pssMb: field("Pss") / 1024,
    ussMb: (field("Private_Clean") + field("Private_Dirty")) / 1024,
  };
}

function echoJobs(count: number, latencyMs = 0) {
  return Array.from({ length: count }, (_, index) => ({
    name: "llm",
    data: { prompt: `job ${index}`, provider: { name: "echo", latency_ms: latencyMs } },
    opts: { removeOnComplete: true, removeOnFail: true },
  }));
}

/** Adds `jobs` in bulk and returns jobs/s from the first add to the last completion. */
async function drainRate(queue: Queue, jobs: ReturnType<typeof echoJobs>): Promise<number> {
  const started = performance.now();
  for (let index = 0; index < jobs.length; index += 1000) {
    await queue.addBulk(jobs.slice(index, index + 1000));
  }
  await waitUntil(async () => {
    const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
    return Object.values(counts).every((count) => count === 0);
  }, { what: `${jobs.length} jobs`, timeoutMs: 600_000, intervalMs: 20 });
  return jobs.length / ((performance.now() - started) / 1000);
}

async function pool(args: string[], env: Record<string, string> = {}): Promise<Supervisor> {
  const supervisor = startSupervisor(args, {
    redisUrl: redis.url,
    env: { LOG_LEVEL: "warning", ...env },
  });
  const count = Number(args[args.indexOf("--count") + 1]);
  await supervisor.waitForHealth(
    (health) =>
      health.workers.length === count && health.workers.every((worker) => worker.state === "idle"),
    "the pool to be ready",
    120_000,
  );
  return supervisor;
}

async function stop(supervisor: Supervisor) {
  supervisor.signal("SIGTERM");
  await supervisor.waitForExit(60_000);
  await supervisor[Symbol.asyncDispose]();
}

/** Waits until BullMQ lists `count` workers on the queue (each poll through the one queue client). */
async function workersRegistered(count: number, what: string): Promise<void> {
  await waitUntil(async () => (await queue.getWorkersCount()) >= count, {
    what: `${what} to register`,
    timeoutMs: 60_000,
  });
}

/** N plain worker processes started by hand: the same processor, no supervisor. */
async function plainWorkers(count: number, concurrency: number): Promise<Deno.ChildProcess[]> {
  const children: Deno.ChildProcess[] = [];
  for (let index = 1; index <= count; index++) {
    const { command, args } = pprCommand([
      "worker",
      "--name",
      `plain-${index}`,
      "--concurrency",
      String(concurrency),
    ]);
    children.push(
      new Deno.Command(command, {
        args,
        env: baseEnv({ REDIS_URL: redis.url, LLM_PROVIDER: "echo", LOG_LEVEL: "warning" }),
        clearEnv: true,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn(),
    );
  }
  await workersRegistered(count, "plain workers");
  return children;
}

/**
 * N Node.js processes running BullMQ's Worker with the same no-op processor (what most BullMQ
 * users run): BullMQ and ioredis of the versions ppr-worker pins, installed from npm once into
 * a cache folder. `undefined` when Node.js or npm is missing.
 */
async function nodeWorkers(
  count: number,
  concurrency: number,
): Promise<{ children: Deno.ChildProcess[] } | undefined> {
  const dir = `${Deno.env.get("HOME")}/.cache/ppr-bench-node`;
  try {
    await Deno.stat(`${dir}/node_modules/bullmq/package.json`);
  } catch {
    await Deno.mkdir(dir, { recursive: true });
    const install = await new Deno.Command("npm", {
      args: [
        "install",
        "--prefix",
        dir,
        "--no-audit",
        "--no-fund",
        "bullmq@6.7.0",
        "ioredis@5.11.1",
      ],
      stdout: "null",
      stderr: "null",
    }).output().catch(() => undefined);
    if (!install?.success) {
      console.error("  Node.js baseline skipped: npm could not install bullmq");
      return undefined;
    }
  }
  await Deno.writeTextFile(
    `${dir}/worker.cjs`,
    `const { Worker } = require("bullmq");
const IORedis = require("ioredis");
const connection = new IORedis(process.env.REDIS_URL, { maxRetriesPerRequest: null });
const worker = new Worker("llm", async (job) => ({ text: job.data.prompt, model: "echo", provider: "echo" }),
  { connection, concurrency: Number(process.env.CONCURRENCY), name: process.env.NAME });
process.on("SIGTERM", async () => { await worker.close(); process.exit(0); });
`,
  );
  const children: Deno.ChildProcess[] = [];
  for (let index = 1; index <= count; index++) {
    children.push(
      new Deno.Command("node", {
        args: [`${dir}/worker.cjs`],
        env: { REDIS_URL: redis.url, CONCURRENCY: String(concurrency), NAME: `node-${index}` },
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn(),
    );
  }
  await workersRegistered(count, "Node.js workers");
  return { children };
}

async function stopAll(children: Deno.ChildProcess[]) {
  for (const child of children) child.kill("SIGTERM");
  await Promise.all(children.map((child) => child.status));
}

const queue = new Queue("llm", { connection: client });
queue.on("error", () => {});

// 1. Throughput of no-op (echo) jobs: supervised and plain rounds alternate, so that drift of a
// shared machine hits both alike; the median of each, and the spread of the per-round ratio.
console.error(`1. throughput, ${JOBS} echo jobs, ${ROUNDS} alternating rounds`);
for (const concurrency of [1, 8]) {
  const supervised: number[] = [];
  const plainRates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const measureSupervised = async () => {
      const supervisor = await pool(["--count", "4", "--concurrency", String(concurrency)]);
      supervised.push(await drainRate(queue, echoJobs(JOBS)));
      await stop(supervisor);
    };
    const measurePlain = async () => {
      const plain = await plainWorkers(4, concurrency);
      plainRates.push(await drainRate(queue, echoJobs(JOBS)));
      await stopAll(plain);
    };
    if (round % 2 === 0) {
      await measureSupervised();
      await measurePlain();
    } else {
      await measurePlain();
      await measureSupervised();
    }
  }
  const ratios = supervised.map((rate, index) => rate / plainRates[index]);
  record(
    "throughput",
    `ppr-worker --count 4, concurrency ${concurrency}`,
    median(supervised),
    "jobs/s",
    `median of ${ROUNDS}`,
  );
  record(
    "throughput",
    `4 plain worker processes, concurrency ${concurrency}`,
    median(plainRates),
    "jobs/s",
    `median of ${ROUNDS}`,
  );
  record(
    "throughput",
    `supervised / plain, concurrency ${concurrency}`,
    median(supervised) / median(plainRates),
    "x",
    `per-round ratios ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`,
  );
  const node = await nodeWorkers(4, concurrency);
  if (node) {
    record(
      "throughput",
      `4 Node.js BullMQ processes, concurrency ${concurrency}`,
      await drainRate(queue, echoJobs(JOBS)),
      "jobs/s",
    );
    if (concurrency === 1) {
      const memory = node.children.map((child) => memoryOf(child.pid));
      record(
        "memory",
        "idle Node.js BullMQ worker RSS",
        mean(memory.map((each) => each.rssMb)),
        "MB",
      );
      record(
        "memory",
        "idle Node.js BullMQ worker unique (USS)",
        mean(memory.map((each) => each.ussMb)),
        "MB",
      );
    }
    await stopAll(node.children);
  }
}
{
  const plain = await plainWorkers(1, 32);
  record(
    "throughput",
    "1 plain process, concurrency 32",
    await drainRate(queue, echoJobs(JOBS)),
    "jobs/s",
  );
  await stopAll(plain);
}
const rq = await rqBaseline();
if (rq !== undefined) {
  record("throughput", "4 rq worker processes (the old system's model)", rq, "jobs/s");
}

// 2. Latency-bound throughput against a stub LLM with 500 ms latency.
console.error("2. latency-bound throughput");
{
  await using stub = startStubLlm();
  const slots = 4 * 8;
  const count = slots * 10;
  const supervisor = await pool(["--count", "4", "--concurrency", "8"], {
    LLM_PROVIDER: "openai",
    OPENAI_API_KEY: "bench",
    OPENAI_BASE_URL: `${stub.url}/v1`,
  });
  const jobs = Array.from({ length: count }, (_, index) => ({
    name: "llm",
    data: { prompt: `SLEEP${LATENCY_MS} ${index}` },
    opts: { removeOnComplete: true },
  }));
  // Steady state: completions between the end of the first round and the start of the last,
  // so that the ramp-up and the last partial round do not count.
  const completed = new QueueEvents("llm", { connection: redis.client() });
  await completed.waitUntilReady();
  const times: number[] = [];
  completed.on("completed", () => times.push(performance.now()));
  const wholeRate = await drainRate(queue, jobs as ReturnType<typeof echoJobs>);
  await completed.close();
  const steady = times.slice(slots, count - slots);
  const rate = (steady.length - 1) / ((steady.at(-1)! - steady[0]) / 1000);
  const limit = slots / (LATENCY_MS / 1000);
  record(
    "latency-bound",
    `ppr-worker 4 x 8, ${LATENCY_MS} ms stub LLM, steady state`,
    rate,
    "jobs/s",
    `limit ${limit} jobs/s; first and last rounds left out`,
  );
  record("latency-bound", "share of the theoretical limit", rate / limit, "x");
  record(
    "latency-bound",
    "whole run, ramp-up and tail included",
    wholeRate / limit,
    "x",
  );
  await stop(supervisor);
}

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

// 6. Cost growth.
console.error(`6. cost growth, ${GROWTH_JOBS} echo jobs`);
for (const count of [1, 2, 4, 8, 16]) {
  const supervisor = await pool(["--count", String(count), "--concurrency", "8"]);
  const rate = await drainRate(queue, echoJobs(GROWTH_JOBS));
  const health = (await supervisor.health()).body;
  const pss = memoryOf(supervisor.pid).pssMb +
    health.workers.reduce((sum, worker) => sum + memoryOf(worker.pid!).pssMb, 0);
  record("growth", `--count ${count}, concurrency 8: throughput`, rate, "jobs/s");
  record("growth", `--count ${count}: total PSS`, pss, "MB");
  await stop(supervisor);
}

// 7. The Claude CLI: cold against warm, request sizes, 401 to pause.
console.error(`7. the Claude CLI against the stub Messages API`);
await benchClaudeCli(record, redis);

// 8. What a /metrics scrape costs the supervisor, with 20 workers and 4 queues.
console.error("8. /metrics scrape cost");
{
  const supervisor = await pool(["--count", "20", "--queue", "llm,a,b,c"], {
    QUEUE_PROCESSORS: "a=llm;b=llm;c=llm",
  });
  await delay(2000); // the workers' first figures and the first queue read
  const cpu = () => {
    const stat = Deno.readTextFileSync(`/proc/${supervisor.pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, ms
  };
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
  record("metrics", "supervisor CPU per /metrics scrape (20 workers, 4 queues)", scrapeCpuMs, "ms");
  record("metrics", "/metrics response time", (wallS * 1000) / scrapes, "ms");
  await stop(supervisor);
}

// 9. External processors: a persistent Python process against one Python process per job.
console.error(`9. external processors`);
await benchProcessors(record, redis);

await queue.close();

/** The old system's model: `rq worker` processes (Debian's python3-rq), forking a child per job. */
async function rqBaseline(): Promise<number | undefined> {
  const rq = ["/usr/bin/rq"].find((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  });
  if (!rq) {
    console.error(
      "  rq baseline skipped: python3-rq is not installed (apt-get install python3-rq)",
    );
    return undefined;
  }
  const dir = await Deno.makeTempDir({ prefix: "ppr-rq-" });
  await Deno.writeTextFile(`${dir}/echo_job.py`, "def echo(prompt):\n    return prompt\n");
  const count = 400;
  const enqueue = new Deno.Command("/usr/bin/python3", {
    args: [
      "-c",
      `import sys; sys.path.insert(0, '${dir}')\nfrom redis import Redis\nfrom rq import Queue\nq = Queue('rqbench', connection=Redis.from_url('${redis.url}'))\nfor i in range(${count}): q.enqueue('echo_job.echo', f'job {i}', result_ttl=0)`,
    ],
  });
  const started = performance.now();
  if (!(await enqueue.output()).success) return undefined;
  const workers = Array.from({ length: 4 }, (_, index) =>
    new Deno.Command(rq, {
      args: ["worker", "--burst", "--url", redis.url, "--name", `rq-${index}`, "rqbench"],
      cwd: dir,
      env: { PYTHONPATH: dir },
      stdout: "null",
      stderr: "null",
    }).spawn());
  await Promise.all(workers.map((worker) => worker.status));
  const rate = count / ((performance.now() - started) / 1000);
  await Deno.remove(dir, { recursive: true });
  return rate;
}

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
await Deno.writeTextFile(
  new URL("./results/latest.json", import.meta.url),
  JSON.stringify({ machine, rows }, null, 2) + "\n",
);

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
