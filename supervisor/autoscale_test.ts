import { strict as assert } from "node:assert";
import { type AutoscaleInputs, decideSize } from "./autoscale.ts";

/** A pool of 1 to 8 workers of one slot each, nothing waiting, at 100 s. */
const quiet: AutoscaleInputs = {
  range: { min: 1, max: 8 },
  current: 1,
  backlog: 0,
  busySlots: 0,
  slotsPerWorker: 1,
  providerPaused: false,
  memoryMaxWorkers: undefined,
  nowMs: 100_000,
  roomSinceMs: undefined,
  lastChangeAtMs: undefined,
  scaleDownDelayMs: 30_000,
};

Deno.test("jobs waiting grow the pool at once by what they need, never past MAX", () => {
  assert.deepEqual(decideSize({ ...quiet, backlog: 3 }), {
    desired: 4,
    reason: "backlog",
    detail: "3 job(s) waiting",
  });
  assert.equal(decideSize({ ...quiet, backlog: 2000 }).desired, 8);
  assert.equal(decideSize({ ...quiet, backlog: 7, slotsPerWorker: 4 }).desired, 3);
  assert.equal(decideSize({ ...quiet, current: 8, backlog: 2000 }).reason, "at_max");
});

Deno.test("jobs waiting do not grow the pool while the provider is paused", () => {
  const decision = decideSize({ ...quiet, backlog: 50, providerPaused: true });
  assert.equal(decision.desired, 1);
  assert.equal(decision.reason, "provider_paused");
});

Deno.test("growth stops at the workers the memory holds, and at the workers LLM_MAX_IN_FLIGHT gives a share", () => {
  assert.equal(decideSize({ ...quiet, backlog: 50, memoryMaxWorkers: 3 }).desired, 3);
  const full = decideSize({ ...quiet, current: 3, backlog: 50, memoryMaxWorkers: 3 });
  assert.deepEqual([full.desired, full.reason], [3, "memory"]);
  assert.equal(decideSize({ ...quiet, backlog: 50, llmMaxWorkers: 2 }).desired, 2);
  assert.equal(
    decideSize({ ...quiet, current: 2, backlog: 50, llmMaxWorkers: 2 }).reason,
    "llm_bound",
  );
});

Deno.test("a pool outside the range goes back into it: up to MIN, down to MAX", () => {
  const range = { min: 2, max: 4 };
  assert.deepEqual(
    [
      decideSize({ ...quiet, range, current: 1 }).desired,
      decideSize({ ...quiet, range, current: 6 }).desired,
    ],
    [2, 4],
  );
});

Deno.test("room for one worker fewer shrinks the pool by one after AUTOSCALE_DOWN_DELAY, not 1 ms sooner", () => {
  const idle = { ...quiet, current: 4, roomSinceMs: 70_000 };
  assert.deepEqual(
    [decideSize({ ...idle, nowMs: 99_999 }).desired, decideSize({ ...idle, nowMs: 99_999 }).reason],
    [4, "cooling_down"],
  );
  assert.deepEqual([decideSize(idle).desired, decideSize(idle).reason], [3, "idle"]);
});

Deno.test("a change of size restarts the wait before the next shrink: down one worker per delay, the detail says since when", () => {
  const idle = { ...quiet, current: 3, roomSinceMs: 0, lastChangeAtMs: 80_000 };
  assert.deepEqual(decideSize(idle), {
    desired: 3,
    reason: "cooling_down",
    detail: "room for one worker fewer for 100 s, 20 s since the last change of size",
  });
  assert.equal(decideSize({ ...idle, nowMs: 110_000 }).desired, 2);
});

Deno.test("jobs in flight that need every worker keep the size; the pool never shrinks below MIN", () => {
  assert.equal(decideSize({ ...quiet, current: 4, busySlots: 4, roomSinceMs: 0 }).reason, "steady");
  assert.equal(decideSize({ ...quiet, current: 1, roomSinceMs: 0 }).desired, 1);
});
