import { strict as assert } from "node:assert";
import { createFakeClock } from "../testing/fake_clock.ts";
import { startAutoscaler } from "./autoscaler.ts";

/** A pool that only counts, and an autoscaler of 1 to 4 over it looking every second. */
function scaledPool(backlog: { jobs: number | Error }) {
  const clock = createFakeClock(1_000_000);
  const pool = { workers: 1, busy: 0 };
  const resizes: number[] = [];
  const autoscaler = startAutoscaler({
    range: { min: 1, max: 4 },
    scaleDownDelayMs: 10_000,
    slotsPerWorker: 1,
    readBacklog: () =>
      backlog.jobs instanceof Error ? Promise.reject(backlog.jobs) : Promise.resolve(backlog.jobs),
    pool: {
      size: () => pool.workers,
      busySlots: () => pool.busy,
      grow: () => pool.workers = Math.min(20, pool.workers + 1),
      shrink: () => pool.workers = Math.max(1, pool.workers - 1),
    },
    providerPaused: () => false,
    memoryMaxWorkers: undefined,
    onResize: (size) => resizes.push(size),
    clock,
  });
  return { clock, pool, resizes, autoscaler };
}

Deno.test("the autoscaler grows to MAX in one look at a burst, then drains one worker per AUTOSCALE_DOWN_DELAY back to MIN", async () => {
  const backlog = { jobs: 100 as number | Error };
  const { clock, pool, resizes, autoscaler } = scaledPool(backlog);
  await clock.tickAsync(1000);
  assert.equal(pool.workers, 4);
  assert.deepEqual(autoscaler.state.decision?.reason, "backlog");
  backlog.jobs = 0;
  // The first quiet look starts the wait: 10 s later, one fewer; then 10 s more for each next.
  await clock.tickAsync(10_000);
  assert.equal(pool.workers, 4);
  await clock.tickAsync(1000);
  assert.equal(pool.workers, 3);
  await clock.tickAsync(9000);
  assert.equal(pool.workers, 3);
  await clock.tickAsync(1000);
  assert.equal(pool.workers, 2);
  await clock.tickAsync(30_000);
  assert.equal(pool.workers, 1);
  assert.deepEqual(resizes, [4, 3, 2, 1]);
  autoscaler.stop();
});

Deno.test("a backlog that cannot be read changes nothing", async () => {
  const { clock, pool, autoscaler } = scaledPool({ jobs: new Error("Redis is down") });
  await clock.tickAsync(5000);
  assert.equal(pool.workers, 1);
  assert.equal(autoscaler.state.decision, undefined);
  autoscaler.stop();
});

Deno.test("jobs in flight on every worker keep the pool at its size with nothing waiting", async () => {
  const backlog = { jobs: 3 as number | Error };
  const { clock, pool, autoscaler } = scaledPool(backlog);
  await clock.tickAsync(1000);
  assert.equal(pool.workers, 4);
  backlog.jobs = 0;
  pool.busy = 4;
  await clock.tickAsync(60_000);
  assert.equal(pool.workers, 4);
  assert.equal(autoscaler.state.decision?.reason, "steady");
  autoscaler.stop();
});
