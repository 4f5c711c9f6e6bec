import { strict as assert } from "node:assert";
import { countsPerMinute, queueJobRates } from "./job_rates.ts";

const MINUTE = 60_000;
const NONE = { meta: { count: 0, prevTS: 0, prevCount: 0 }, data: [] };

Deno.test("the jobs since BullMQ last closed a minute count in that minute, each closed one in its own", () => {
  // Closed: minute 9 had 4 jobs, 8 none, 7 had 2; 3 more ended since minute 10 began.
  const metrics = {
    meta: { count: 9, prevTS: 10 * MINUTE + 30_000, prevCount: 6 },
    data: [4, 0, 2],
  };
  assert.deepEqual(countsPerMinute(metrics, 6, 11), [0, 2, 0, 4, 3, 0]);
});

Deno.test("minutes outside the window are left out, not added to its edges", () => {
  const metrics = { meta: { count: 9, prevTS: 10 * MINUTE, prevCount: 6 }, data: [4, 0, 2] };
  assert.deepEqual(countsPerMinute(metrics, 8, 9), [0, 4]);
});

Deno.test("a queue without metrics has no jobs in any minute and is not recorded", () => {
  const rates = queueJobRates("llm", { completed: NONE, failed: NONE }, 180, 1000 * MINUTE);
  assert.equal(rates.minutes.length, 180);
  assert.equal(rates.minutes.at(-1)!.minute, new Date(1000 * MINUTE).toISOString());
  assert.deepEqual([rates.completed, rates.failed, rates.recorded], [0, 0, false]);
});
