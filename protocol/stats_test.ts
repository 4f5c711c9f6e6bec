import { strict as assert } from "node:assert";
import { parseEvent } from "./messages.ts";
import {
  callStats,
  callStatsKey,
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

Deno.test("mergeStats: a heartbeat of an older worker, whose call figures lack batchCalls and batchCostUsd, adds them as 0, never NaN", () => {
  const older = parseEvent(JSON.stringify({
    event: "heartbeat",
    active: [],
    processed: 2,
    failed: 0,
    rss: 0,
    subprocesses: [],
    stats: {
      queues: {},
      providers: {},
      calls: {
        [callStatsKey("claude", "claude-haiku-4-5", "llm")]: {
          provider: "claude",
          model: "claude-haiku-4-5",
          queue: "llm",
          calls: 2,
          inputTokens: 20,
          outputTokens: 4,
          cacheWriteTokens: 0,
          cacheReadTokens: 0,
          costUsd: 0.002,
          unpricedCalls: 0,
          fallbacks: 0,
          cacheHits: 0,
          cacheMisses: 2,
          savedUsd: 0,
          rateLimitWaits: 0,
          budgetRefusals: 0,
        },
      },
    },
  }));
  assert.ok(older?.event === "heartbeat" && older.stats, "the older heartbeat is read");
  const newer = emptyStats();
  const figures = callStats(newer, "claude", "claude-haiku-4-5", "llm");
  figures.calls = 3;
  figures.costUsd = 0.004;
  figures.batchCalls = 3;
  figures.batchCostUsd = 0.004;
  const merged = mergeStats([older.stats, newer]);
  const both = merged.calls![callStatsKey("claude", "claude-haiku-4-5", "llm")];
  assert.equal(both.calls, 5);
  assert.equal(both.batchCalls, 3);
  assert.equal(both.batchCostUsd, 0.004);
  const alone = mergeStats([older.stats]).calls![callStatsKey("claude", "claude-haiku-4-5", "llm")];
  assert.equal(alone.batchCalls, 0);
  assert.equal(alone.batchCostUsd, 0);
  for (const [field, value] of Object.entries(both)) {
    assert.ok(!Number.isNaN(value), `${field} is a number`);
  }
});

Deno.test("mergeStats: a call figure that is not a finite number in a heartbeat adds as 0", () => {
  const odd = emptyStats();
  const figures = callStats(odd, "claude", "m", "llm");
  figures.calls = 1;
  (figures as unknown as Record<string, unknown>).batchCalls = "1";
  (figures as unknown as Record<string, unknown>).batchCostUsd = null;
  const merged = mergeStats([odd, odd]).calls![callStatsKey("claude", "m", "llm")];
  assert.equal(merged.calls, 2);
  assert.equal(merged.batchCalls, 0);
  assert.equal(merged.batchCostUsd, 0);
});
