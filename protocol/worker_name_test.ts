import { strict as assert } from "node:assert";
import { isWorkerOf, workerName } from "./worker_name.ts";

Deno.test("workerName follows worker-<hostname>-<n> and isWorkerOf recognises only that host's slots", () => {
  assert.equal(workerName("scraper-1", 2), "worker-scraper-1-2");
  assert.equal(isWorkerOf(workerName("scraper-1", 2), "scraper-1"), true);
  assert.equal(isWorkerOf("worker-scraper-1-x", "scraper-1"), false);
  assert.equal(isWorkerOf("worker-scraper-1-2", "scraper"), false);
  assert.equal(isWorkerOf("worker-other-1", "scraper-1"), false);
});

Deno.test("a pool's workers are worker-<hostname>@<pool>-<n>, its host's and no other host's", () => {
  assert.equal(workerName("scraper-1", 2, "recorder"), "worker-scraper-1@recorder-2");
  assert.equal(isWorkerOf(workerName("scraper-1", 2, "recorder"), "scraper-1"), true);
  assert.equal(isWorkerOf(workerName("scraper-1", 2, "recorder"), "scraper"), false);
  assert.equal(isWorkerOf("worker-scraper-1@recorder-x", "scraper-1"), false);
  assert.equal(isWorkerOf("worker-scraper-1@-2", "scraper-1"), false);
});
