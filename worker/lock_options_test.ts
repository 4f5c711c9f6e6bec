import { strict as assert } from "node:assert";
import { lockOptions } from "./lock_options.ts";

Deno.test("lockOptions: a job fails at its MAX_JOB_CRASHES-th stall, so MAX_JOB_CRASHES 1 fails it at its first (maxStalledCount 0)", () => {
  const settings = { lockDurationMs: 8000, stalledIntervalMs: 1000 };
  assert.equal(lockOptions({ ...settings, maxJobCrashes: 1 }).maxStalledCount, 0);
  assert.equal(lockOptions({ ...settings, maxJobCrashes: 3 }).maxStalledCount, 2);
});

Deno.test("lockOptions: LOCK_DURATION and STALLED_INTERVAL go to BullMQ as lockDuration and stalledInterval, unchanged", () => {
  const options = lockOptions({ lockDurationMs: 8000, stalledIntervalMs: 1000, maxJobCrashes: 3 });
  assert.equal(options.lockDuration, 8000);
  assert.equal(options.stalledInterval, 1000);
});
