/**
 * The elastic pool against fixed sizes: a burst of echo jobs through `--count 1`, `--count 8`
 * and `--autoscale 1,8` (with the default `AUTOSCALE_DOWN_DELAY` and a short one): how long
 * the burst takes to drain, and the container's memory (total PSS of the supervisor and its
 * workers, sampled every second): its peak, and its average over a quiet minute after the
 * burst. Part of `deno task bench` (`BENCH_ONLY=scale`); writes bench/results/scale.json.
 */

import type { Queue } from "bullmq";
import { delay } from "../async/mod.ts";
import type { Supervisor } from "../testing/ppr.ts";
import type { Record as RecordRow } from "./claude_cli.ts";
import type { Pools } from "./economics.ts";
import { memoryOf } from "./proc.ts";

/** Jobs in the burst (`BENCH_SCALE_JOBS`) and how long each one runs. */
const JOBS = Number(Deno.env.get("BENCH_SCALE_JOBS") ?? 2000);
const JOB_MS = 200;
/** The quiet window after the burst (`BENCH_SCALE_QUIET_S`). */
const QUIET_MS = Number(Deno.env.get("BENCH_SCALE_QUIET_S") ?? 60) * 1000;
const SAMPLE_MS = 1000;

/** The pools measured: fixed small, fixed large, elastic. */
const POOLS = [
  { name: "--count 1", args: ["--count", "1"] },
  { name: "--count 8", args: ["--count", "8"] },
  { name: "--autoscale 1,8", args: ["--count", "1", "--autoscale", "1,8"] },
  {
    name: "--autoscale 1,8 --autoscale-down-delay 5s",
    args: ["--count", "1", "--autoscale", "1,8", "--autoscale-down-delay", "5s"],
  },
];

/** Total PSS of the supervisor and the workers /health lists, in MB, and how many workers. */
async function sample(supervisor: Supervisor): Promise<{ pssMb: number; workers: number }> {
  const { body } = await supervisor.health();
  const pids = [supervisor.pid, ...body.workers.flatMap((worker) => worker.pid ?? [])];
  let pssMb = 0;
  for (const pid of pids) {
    try {
      pssMb += memoryOf(pid).pssMb;
    } catch {
      // gone between the read of /health and this one (a worker drained away)
    }
  }
  return { pssMb, workers: body.worker_count };
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** Each pool in turn: the burst, its drain time, peak PSS, and the quiet minute's average. */
export async function benchScale(record: RecordRow, queue: Queue, pools: Pools): Promise<void> {
  for (const pool of POOLS) {
    const supervisor = await pools.start([...pool.args, "--concurrency", "1"], {
      LLM_PROVIDER: "echo",
    });
    try {
      const samples: { atMs: number; pssMb: number; workers: number }[] = [];
      let sampling = true;
      let missed = 0;
      const sampler = (async () => {
        while (sampling) {
          // A /health that does not answer in 5 s on a loaded machine is a missed sample, counted.
          const taken = await sample(supervisor).catch(() => undefined);
          if (taken) samples.push({ atMs: Date.now(), ...taken });
          else missed++;
          await delay(SAMPLE_MS);
        }
      })();
      await queue.addBulk(Array.from({ length: JOBS }, (_, index) => ({
        name: "llm",
        data: { prompt: `burst ${index}`, provider: { name: "echo", latency_ms: JOB_MS } },
      })));
      const startedMs = Date.now();
      while ((await queue.getCompletedCount()) < JOBS) await delay(100);
      const drainedMs = Date.now();
      await delay(QUIET_MS);
      sampling = false;
      await sampler;
      const quiet = samples.filter((each) => each.atMs >= drainedMs);
      record(
        "scale",
        `${pool.name}: ${JOBS} jobs of ${JOB_MS} ms drained in`,
        (drainedMs - startedMs) / 1000,
        "s",
      );
      record(
        "scale",
        `${pool.name}: peak total PSS`,
        Math.max(...samples.map((each) => each.pssMb)),
        "MB",
        `most workers: ${Math.max(...samples.map((each) => each.workers))}`,
      );
      record(
        "scale",
        `${pool.name}: total PSS over the quiet ${QUIET_MS / 1000} s after`,
        mean(quiet.map((each) => each.pssMb)),
        "MB",
        `workers at its end: ${quiet.at(-1)?.workers}; ${samples.length} samples${
          missed > 0 ? `, ${missed} missed` : ""
        }`,
      );
    } finally {
      await pools.stop(supervisor);
      await queue.obliterate({ force: true });
    }
  }
}
