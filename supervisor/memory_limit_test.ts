import { strict as assert } from "node:assert";
import { heapLimitMb, memoryLimitBytes } from "./memory_limit.ts";

Deno.test("each worker's heap limit is its share of 60 % of the memory limit, at least 128 MB", () => {
  assert.equal(heapLimitMb(2 * 1024 ** 3, 4), 307);
  assert.equal(heapLimitMb(24 * 1024 ** 3, 1), 14745);
  assert.equal(heapLimitMb(512 * 1024 ** 2, 20), 128);
});

Deno.test("the memory limit is read from the cgroup or the machine", () => {
  const limit = memoryLimitBytes();
  assert.ok(limit !== undefined && limit > 64 * 1024 ** 2, String(limit));
});
