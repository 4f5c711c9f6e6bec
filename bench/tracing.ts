/**
 * What tracing costs per job: echo LLM jobs through one worker process with tracing off, on (every
 * trace exported to a stub OTLP/HTTP collector) and sampled (`OTEL_TRACES_SAMPLER` at 10 %), in
 * alternating rounds (the order rotates), each mode's rate pooled over its rounds, the ratios to
 * off with the single rounds' spread, and the worker's CPU per job. Part of `deno task bench`
 * (`BENCH_ONLY=tracing`).
 */

import type { Supervisor } from "../testing/ppr.ts";
import { startStubOtlp } from "../testing/stub_otlp.ts";
import type { Record as RecordRow } from "./claude_cli.ts";
import type { Pools } from "./economics.ts";
import { cpuOf } from "./proc.ts";
import { addSpanEvent, setupTracing, withSpan } from "../telemetry/tracing.ts";

/** Jobs per round (`BENCH_TRACING_JOBS`) and rounds per mode (`BENCH_TRACING_ROUNDS`). */
const JOBS = Number(Deno.env.get("BENCH_TRACING_JOBS") ?? 2000);
const ROUNDS = Number(Deno.env.get("BENCH_TRACING_ROUNDS") ?? 6);
const CONCURRENCY = 8;

/** Drains `jobs` echo jobs through the pool `start` starts; the seconds from resume to empty. */
export type Drain = (
  jobs: number,
  start: () => Promise<Supervisor>,
) => Promise<{ seconds: number; workers: Supervisor }>;

/** The modes measured, each a worker environment. */
function modes(collectorUrl: string) {
  const on = { OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl };
  return [
    { name: "off", env: {} },
    { name: "on", env: { ...on, OTEL_TRACES_SAMPLER: "always_on" } },
    {
      name: "sampled 10 %",
      env: { ...on, OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.1" },
    },
  ];
}

/** Calls of the off path timed in this process (`BENCH_TRACING_OFF_CALLS`). */
const OFF_CALLS = Number(Deno.env.get("BENCH_TRACING_OFF_CALLS") ?? 1_000_000);

/**
 * What ppr-worker's span helpers cost with tracing off, per call, in this process: `withSpan`
 * around an async step (as the LLM call, the schema check and the routing are) and a span event.
 */
async function offPathNs(): Promise<{ withSpanNs: number; eventNs: number }> {
  setupTracing(false);
  const step = { name: "ppr.schema_check" };
  const work = () => Promise.resolve(1);
  const time = async (each: () => Promise<unknown>) => {
    const started = performance.now();
    for (let call = 0; call < OFF_CALLS; call++) await each();
    return ((performance.now() - started) * 1e6) / OFF_CALLS;
  };
  // A first pass of each warms the JIT up; the second pass counts.
  let withSpanNs = 0;
  for (let pass = 0; pass < 2; pass++) {
    const bare = await time(work);
    withSpanNs = (await time(() => withSpan(step, work))) - bare;
  }
  let eventNs = 0;
  for (let pass = 0; pass < 2; pass++) {
    const started = performance.now();
    for (let call = 0; call < OFF_CALLS; call++) addSpanEvent("ppr.given_back");
    eventNs = ((performance.now() - started) * 1e6) / OFF_CALLS;
  }
  return { withSpanNs, eventNs };
}

/** Runs the section; see the file's comment. */
export async function benchTracing(
  record: RecordRow,
  pools: Pools,
  drain: Drain,
): Promise<void> {
  const offPath = await offPathNs();
  record(
    "tracing",
    "off: withSpan around an async step, over the bare step",
    offPath.withSpanNs,
    "ns",
    `${OFF_CALLS} calls in one process`,
  );
  record("tracing", "off: a span event", offPath.eventNs, "ns", `${OFF_CALLS} calls`);
  await using collector = startStubOtlp();
  const measured = modes(collector.url).map((mode) => ({
    ...mode,
    seconds: [] as number[],
    cpuMs: 0,
  }));
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order, so that a shared machine's drift hits every mode alike.
    for (let step = 0; step < measured.length; step++) {
      const mode = measured[(round + step) % measured.length];
      let cpuBefore = 0;
      let workerPid = 0;
      const { seconds, workers } = await drain(JOBS, async () => {
        const supervisor = await pools.start(
          ["--count", "1", "--concurrency", String(CONCURRENCY)],
          { LLM_PROVIDER: "echo", ...mode.env },
        );
        const pid = (await supervisor.health()).body.workers[0].pid;
        if (pid === null) throw new Error("the pool's worker has no pid once ready");
        workerPid = pid;
        cpuBefore = cpuOf(workerPid).own * 1000;
        return supervisor;
      });
      mode.cpuMs += cpuOf(workerPid).own * 1000 - cpuBefore;
      mode.seconds.push(seconds);
      await pools.stop(workers);
    }
  }
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const rate = (seconds: number[]) => (JOBS * seconds.length) / sum(seconds);
  const [off] = measured;
  for (const mode of measured) {
    record(
      "tracing",
      `echo LLM jobs, 1 worker at concurrency ${CONCURRENCY}, tracing ${mode.name}`,
      rate(mode.seconds),
      "jobs/s",
      `${ROUNDS} rounds of ${JOBS} jobs`,
    );
    record(
      "tracing",
      `worker CPU per job, tracing ${mode.name}`,
      (mode.cpuMs * 1000) / (JOBS * ROUNDS),
      "us",
    );
  }
  for (const mode of measured.slice(1)) {
    const ratios = mode.seconds.map((seconds, index) => off.seconds[index] / seconds);
    record(
      "tracing",
      `tracing ${mode.name} / off`,
      rate(mode.seconds) / rate(off.seconds),
      "x",
      `single rounds ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`,
    );
  }
  record(
    "tracing",
    "spans received by the stub collector",
    collector.spans.length,
    "spans",
    `over the "on" and "sampled" rounds`,
  );
}
