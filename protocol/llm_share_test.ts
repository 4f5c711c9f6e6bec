import { strict as assert } from "node:assert";
import { formatLlmSlots, parseLlmSlots, splitShare } from "./llm_share.ts";

Deno.test("a share splits over the LLM queues, the remainder rotating from worker to worker", () => {
  assert.deepEqual(splitShare(5, 2, 0), [3, 2]);
  assert.deepEqual(splitShare(4, 1, 3), [4]);
  // 4 workers with 1 call each over 2 queues: both queues are served in the container.
  assert.deepEqual([0, 1, 2, 3].map((worker) => splitShare(1, 2, worker)), [
    [1, 0],
    [0, 1],
    [1, 0],
    [0, 1],
  ]);
});

Deno.test("--llm-slots round-trips, and anything but non-negative integers is refused", () => {
  assert.deepEqual(parseLlmSlots(formatLlmSlots([2, 0, 1])), [2, 0, 1]);
  assert.equal(parseLlmSlots("1,x"), undefined);
  assert.equal(parseLlmSlots("-1"), undefined);
});
