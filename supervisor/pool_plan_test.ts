import { strict as assert } from "node:assert";
import { planPools, poolWorkerEnv } from "./pool_plan.ts";

const BASE = { queues: ["llm", "recorder"], concurrency: 2, workerCount: 3, autoscale: undefined };

Deno.test("without WORKER_POOLS there is one unnamed pool of WORKER_COUNT serving every queue, its workers' environment untouched", () => {
  const [plan, ...rest] = planPools({ ...BASE, pools: undefined }, 20);
  assert.equal(rest.length, 0);
  assert.deepEqual(plan, {
    name: undefined,
    queues: ["llm", "recorder"],
    concurrency: 2,
    initialSize: 3,
    range: undefined,
    maxWorkers: 20,
  });
  assert.deepEqual(poolWorkerEnv(plan), {});
});

Deno.test("without WORKER_POOLS, WORKER_AUTOSCALE bounds the one pool: it starts at WORKER_COUNT within the range", () => {
  const [plan] = planPools({ ...BASE, pools: undefined, autoscale: { min: 4, max: 6 } }, 20);
  assert.equal(plan.initialSize, 4);
  assert.equal(plan.maxWorkers, 6);
});

Deno.test("WORKER_POOLS makes a pool per queue with its own size, range and concurrency (WORKER_CONCURRENCY's when it names none), its workers told their queue and concurrency", () => {
  const plans = planPools({
    ...BASE,
    pools: [
      { queue: "llm", count: 2, range: { min: 2, max: 6 }, concurrency: 4 },
      { queue: "recorder", count: 1 },
    ],
  }, 20);
  assert.deepEqual(plans, [
    {
      name: "llm",
      queues: ["llm"],
      concurrency: 4,
      initialSize: 2,
      range: { min: 2, max: 6 },
      maxWorkers: 6,
    },
    {
      name: "recorder",
      queues: ["recorder"],
      concurrency: 2,
      initialSize: 1,
      range: undefined,
      maxWorkers: 20,
    },
  ]);
  assert.deepEqual(poolWorkerEnv(plans[1]), { QUEUE_NAME: "recorder", WORKER_CONCURRENCY: "2" });
});
