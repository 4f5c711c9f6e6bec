import { strict as assert } from "node:assert";
import { llmBudget, llmShare } from "./llm_budget.ts";

const GiB = 1024 ** 3;
const inputs = {
  memoryBytes: 8 * GiB,
  workerCount: 4,
  concurrency: 8,
  llmQueues: 1,
  callProcess: { what: "Claude CLI call", memoryMb: 300 },
  configured: undefined,
};

Deno.test("with the Claude CLI the default bound is what fits in the memory, with the arithmetic", () => {
  const budget = llmBudget(inputs);
  assert.equal(budget.limit, 22);
  assert.match(
    budget.explanation,
    /\(8192 MB x 0\.9 - 100 MB supervisor - 4 x 100 MB workers\) \/ 300 MB per Claude CLI call = 22/,
  );
  assert.equal(budget.warning, undefined, "a default of 1 or more calls fits the memory");
});

Deno.test("LLM_MAX_IN_FLIGHT wins over the default, and a worst case past the memory is explained", () => {
  const budget = llmBudget({ ...inputs, memoryBytes: 2 * GiB, configured: 20 });
  assert.equal(budget.limit, 20);
  assert.equal(budget.explanation, "LLM_MAX_IN_FLIGHT=20");
  assert.equal(
    budget.warning,
    "worst case 100 MB supervisor + 4 x 100 MB workers + 20 Claude CLI calls x 300 MB = 6500 MB is more than the container's 2048 MB: lower LLM_MAX_IN_FLIGHT, WORKER_CONCURRENCY or WORKER_COUNT",
  );
});

Deno.test("a bound at or above the job slots is no bound; a tiny memory still allows one call", () => {
  assert.equal(llmBudget({ ...inputs, configured: 32 }).limit, undefined);
  assert.match(llmBudget({ ...inputs, configured: 32 }).explanation, /the 32 job slots/);
  const tiny = llmBudget({ ...inputs, memoryBytes: 256 * 1024 ** 2 });
  assert.equal(tiny.limit, 1);
  assert.match(
    tiny.warning ?? "",
    /1 Claude CLI calls x 300 MB = 800 MB is more than the container's 256 MB/,
  );
});

Deno.test("a bound the pool's job slots stay under is kept when the most workers it may grow to would pass it", () => {
  assert.equal(llmBudget({ ...inputs, configured: 32, maxWorkerCount: 5 }).limit, 32);
  const kept = llmBudget({ ...inputs, configured: 40, maxWorkerCount: 5 });
  assert.equal(kept.limit, undefined);
  assert.match(kept.explanation, /the 40 job slots \(5 workers x 8\)/);
});

Deno.test("API providers and an unknown memory get no default bound", () => {
  assert.equal(llmBudget({ ...inputs, callProcess: undefined }).limit, undefined);
  assert.equal(llmBudget({ ...inputs, memoryBytes: undefined }).limit, undefined);
  assert.match(llmBudget({ ...inputs, memoryBytes: undefined }).explanation, /unknown/);
});

Deno.test("shares split the bound over the workers, the first ones one more; later ones none", () => {
  assert.deepEqual([1, 2, 3, 4].map((index) => llmShare(index, 4, 6)), [2, 2, 1, 1]);
  assert.deepEqual([1, 2, 3, 4].map((index) => llmShare(index, 4, 2)), [1, 1, 0, 0]);
  assert.equal(llmShare(5, 4, 6), 0);
});
