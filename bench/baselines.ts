/**
 * What the bench compares ppr-worker with: the same worker without a supervisor, Node.js
 * BullMQ workers with the same no-op processor, and the old system's `rq worker` processes.
 */

import type { Queue } from "bullmq";
import { baseEnv, pprCommand } from "../testing/ppr.ts";
import { waitUntil } from "../testing/wait.ts";
import { V8_FLAGS } from "../supervisor/self_command.ts";

/** Waits until BullMQ lists `count` workers on `queue`. */
async function workersRegistered(queue: Queue, count: number, what: string): Promise<void> {
  await waitUntil(async () => (await queue.getWorkersCount()) >= count, {
    what: `${what} to register`,
    timeoutMs: 60_000,
  });
}

/** Stops `children` with SIGTERM and waits for them. */
export async function stopAll(children: Deno.ChildProcess[]): Promise<void> {
  for (const child of children) child.kill("SIGTERM");
  await Promise.all(children.map((child) => child.status));
}

/**
 * N plain `ppr-worker worker` processes started by hand: the same processor, no supervisor.
 * With `liteMode: false`, V8 runs with its optimising compilers (ppr-worker ships lite mode).
 */
export async function plainWorkers(
  queue: Queue,
  redisUrl: string,
  count: number,
  concurrency: number,
  options: { liteMode?: boolean } = {},
): Promise<Deno.ChildProcess[]> {
  const children: Deno.ChildProcess[] = [];
  for (let index = 1; index <= count; index++) {
    const { command, args } = pprCommand([
      "worker",
      "--name",
      `plain-${index}`,
      "--concurrency",
      String(concurrency),
    ]);
    const v8 = options.liteMode === false
      ? args.filter((arg) => arg !== `--v8-flags=${V8_FLAGS}`)
      : args;
    children.push(
      new Deno.Command(command, {
        args: v8,
        env: baseEnv({ REDIS_URL: redisUrl, LLM_PROVIDER: "echo", LOG_LEVEL: "warning" }),
        clearEnv: true,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn(),
    );
  }
  await workersRegistered(queue, count, "plain workers");
  return children;
}

const NODE_DIR = `${Deno.env.get("HOME")}/.cache/ppr-bench-node`;

/**
 * Installs, once into a cache folder, BullMQ and ioredis of the versions ppr-worker pins, and
 * writes the Node.js worker: BullMQ's Worker with the same no-op processor (what most BullMQ
 * users run). Returns the script's path; `undefined` when Node.js or npm is missing.
 */
export async function installNodeBaseline(): Promise<string | undefined> {
  try {
    await Deno.stat(`${NODE_DIR}/node_modules/bullmq/package.json`);
  } catch {
    await Deno.mkdir(NODE_DIR, { recursive: true });
    const install = await new Deno.Command("npm", {
      args: [
        "install",
        "--prefix",
        NODE_DIR,
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
  const script = `${NODE_DIR}/worker.cjs`;
  await Deno.writeTextFile(
    script,
    `const { Worker } = require("bullmq");
const IORedis = require("ioredis");
const connection = new IORedis(process.env.REDIS_URL, { maxRetriesPerRequest: null });
const worker = new Worker("llm", async (job) => ({ text: job.data.prompt, model: "echo", provider: "echo" }),
  { connection, concurrency: Number(process.env.CONCURRENCY), name: process.env.NAME });
process.on("SIGTERM", async () => { await worker.close(); process.exit(0); });
`,
  );
  return script;
}

/** N Node.js processes running `script` (from `installNodeBaseline`). */
export async function nodeWorkers(
  queue: Queue,
  redisUrl: string,
  script: string,
  count: number,
  concurrency: number,
): Promise<Deno.ChildProcess[]> {
  const children: Deno.ChildProcess[] = [];
  for (let index = 1; index <= count; index++) {
    children.push(
      new Deno.Command("node", {
        args: [script],
        env: { REDIS_URL: redisUrl, CONCURRENCY: String(concurrency), NAME: `node-${index}` },
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn(),
    );
  }
  await workersRegistered(queue, count, "Node.js workers");
  return children;
}

/**
 * The old system's model: 4 `rq worker` processes (Debian's python3-rq), forking a child per
 * job, draining 400 jobs. jobs/s; `undefined` when rq is not installed.
 */
export async function rqBaseline(redisUrl: string): Promise<number | undefined> {
  const rq = "/usr/bin/rq";
  try {
    Deno.statSync(rq);
  } catch {
    console.error(
      "  rq baseline skipped: python3-rq is not installed (apt-get install python3-rq)",
    );
    return undefined;
  }
  const dir = await Deno.makeTempDir({ prefix: "ppr-rq-" });
  try {
    await Deno.writeTextFile(`${dir}/echo_job.py`, "def echo(prompt):\n    return prompt\n");
    const count = 400;
    const enqueue = new Deno.Command("/usr/bin/python3", {
      args: [
        "-c",
        `import sys; sys.path.insert(0, '${dir}')\nfrom redis import Redis\nfrom rq import Queue\nq = Queue('rqbench', connection=Redis.from_url('${redisUrl}'))\nfor i in range(${count}): q.enqueue('echo_job.echo', f'job {i}', result_ttl=0)`,
      ],
    });
    const started = performance.now();
    if (!(await enqueue.output()).success) return undefined;
    const workers = Array.from({ length: 4 }, (_, index) =>
      new Deno.Command(rq, {
        args: ["worker", "--burst", "--url", redisUrl, "--name", `rq-${index}`, "rqbench"],
        cwd: dir,
        env: { PYTHONPATH: dir },
        stdout: "null",
        stderr: "null",
      }).spawn());
    await Promise.all(workers.map((worker) => worker.status));
    return count / ((performance.now() - started) / 1000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
