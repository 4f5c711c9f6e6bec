/**
 * External processors' cost per job: no-op jobs/s through one persistent Python process per
 * worker against a Python process started per job, 4 workers, in the same run. Meant for
 * `deno task bench` (not wired in yet); skipped without python3.
 */

import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { startSupervisor } from "../testing/ppr.ts";
import { waitUntil } from "../testing/wait.ts";
import type { Record } from "./claude_cli.ts";

const JOBS = Number(Deno.env.get("BENCH_PROCESSOR_JOBS") ?? 500);
const WORKERS = 4;

/** A persistent processor (Python) that reads a request line per job and answers it at once. */
export const PERSISTENT_NOOP = `
import json, sys
for line in sys.stdin:
    request = json.loads(line)
    sys.stdout.write(json.dumps({"id": request["id"], "result": None}) + "\\n")
    sys.stdout.flush()
`;
/** Reads the job from stdin and prints a result: Python's start-up is the whole cost. */
const PER_JOB_NOOP = `
import json, sys
json.load(sys.stdin)
print("null")
`;

/** Whether `python3` runs here. */
export async function hasPython(): Promise<boolean> {
  try {
    return (await new Deno.Command("python3", { args: ["--version"], stdout: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

/** Adds `JOBS` no-op jobs at once and returns jobs/s from the first add to the last completion. */
async function drainRate(queue: Queue): Promise<number> {
  const started = performance.now();
  await queue.addBulk(Array.from({ length: JOBS }, (_, index) => ({
    name: "noop",
    data: { index },
    opts: { removeOnComplete: true, removeOnFail: true },
  })));
  await waitUntil(async () => {
    const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
    return Object.values(counts).every((count) => count === 0);
  }, { what: `${JOBS} jobs on ${queue.name}`, timeoutMs: 600_000, intervalMs: 20 });
  return JOBS / ((performance.now() - started) / 1000);
}

/** Runs the external processors part of the benchmark. */
export async function benchProcessors(record: Record, redis: { url: string; client(): Redis }) {
  if (!(await hasPython())) {
    console.error("  external processors part skipped: python3 is not installed");
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "ppr-bench-processors-" });
  await Deno.writeTextFile(`${dir}/persistent_noop.py`, PERSISTENT_NOOP);
  await Deno.writeTextFile(`${dir}/per_job_noop.py`, PER_JOB_NOOP);
  const rates: { [mode: string]: number } = {};
  for (
    const [mode, processor] of [
      ["persistent", `persistent:python3 ${dir}/persistent_noop.py`],
      ["per-job", `python3 ${dir}/per_job_noop.py`],
    ]
  ) {
    const name = `bench-${mode}`;
    const queue = new Queue(name, { connection: redis.client() });
    queue.on("error", () => {});
    const supervisor = startSupervisor(["--count", String(WORKERS), "--queue", name], {
      redisUrl: redis.url,
      env: { LOG_LEVEL: "warning", QUEUE_PROCESSORS: `${name}=${processor}` },
    });
    await supervisor.waitForHealth(
      (health) =>
        health.workers.length === WORKERS &&
        health.workers.every((worker) => worker.state === "idle"),
      "the pool to be ready",
      120_000,
    );
    rates[mode] = await drainRate(queue);
    record(
      "processors",
      `${mode} Python processor, no-op jobs (${WORKERS} workers x 1)`,
      rates[mode],
      "jobs/s",
    );
    await queue.obliterate({ force: true });
    await queue.close();
    supervisor.signal("SIGTERM");
    await supervisor.waitForExit(60_000);
    await supervisor[Symbol.asyncDispose]();
  }
  record(
    "processors",
    "persistent / per-job throughput",
    rates["persistent"] / rates["per-job"],
    "x",
    "Python's start-up, paid per job or once per worker",
  );
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
