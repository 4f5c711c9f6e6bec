import { strict as assert } from "node:assert";
import {
  emptyStats,
  mergeStats,
  observe,
  providerStats,
  queueStats,
  SECONDS_BUCKETS,
} from "./stats.ts";

Deno.test("observations land in the first bucket whose bound holds them; merging adds everything up", () => {
  const a = emptyStats();
  const llm = queueStats(a, "llm");
  observe(llm.durationSeconds, 0.004);
  observe(llm.durationSeconds, 0.3);
  observe(llm.durationSeconds, 5000);
  llm.completed = 3;
  assert.equal(llm.durationSeconds.buckets[0], 1);
  assert.equal(llm.durationSeconds.buckets[SECONDS_BUCKETS.indexOf(0.5)], 1);
  assert.equal(llm.durationSeconds.buckets[SECONDS_BUCKETS.length], 1, "above every bound");
  const claude = providerStats(a, "claude");
  claude.requests = 2;
  claude.errors.quota = 1;
  claude.inputTokens = 100;
  const total = mergeStats([a, undefined, a]);
  assert.equal(total.queues.llm.completed, 6);
  assert.equal(total.queues.llm.durationSeconds.count, 6);
  assert.equal(total.providers.claude.errors.quota, 2);
  assert.equal(total.providers.claude.inputTokens, 200);
  assert.equal(a.queues.llm.completed, 3, "inputs unchanged");
});
