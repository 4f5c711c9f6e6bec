import { strict as assert } from "node:assert";
import { addressedPool, scaledSize } from "./scale_requests.ts";

Deno.test("scale --pool resizes the pool of that name; a supervisor without one is not addressed", () => {
  const pools = [{ name: "llm" }, { name: "recorder" }];
  assert.deepEqual(addressedPool(pools, "recorder"), { pool: pools[1] });
  assert.deepEqual(addressedPool(pools, "gamma"), { skipped: true });
  assert.deepEqual(addressedPool([{ name: undefined }], "llm"), { skipped: true });
});

Deno.test("scale without --pool resizes the one pool, and is refused with the pools' names where there are several", () => {
  const one = [{ name: undefined }];
  assert.deepEqual(addressedPool(one, undefined), { pool: one[0] });
  assert.deepEqual(addressedPool([{ name: "llm" }, { name: "recorder" }], undefined), {
    error: "it runs 2 pools (llm, recorder): name one with --pool",
  });
});

Deno.test("scaledSize keeps a request within 1, the most workers and an autoscaler's range", () => {
  assert.deepEqual(scaledSize(4, 20, undefined), { size: 4 });
  assert.deepEqual(scaledSize(30, 20, undefined), { size: 20, note: "30 is outside at most 20" });
  assert.deepEqual(scaledSize(12, 8, { min: 2, max: 8 }), {
    size: 8,
    note: "12 is outside the autoscaler's range 2-8",
  });
});
