import { strict as assert } from "node:assert";
import { callStats, emptyStats, mergeStats, type WorkerStats } from "../protocol/stats.ts";
import { parseExposition, value } from "../testing/metrics.ts";
import { byLane, createMetrics } from "./metrics.ts";
import type { HealthInputs } from "./status.ts";

/** A pool of no slot whose workers' figures are `stats`, Redis up. */
function inputs(stats: WorkerStats): HealthInputs {
  return {
    pool: {
      size: 0,
      slots: [],
      draining: false,
      intensityExceeded: false,
      restartsInPeriod: 0,
      stats,
    },
    redis: { connected: true, latencyMs: 0.3, downSince: undefined },
    llm: { state: "ok", retryInSeconds: 0, claudeAuthenticated: null },
    queues: ["llm"],
    provider: "claude",
    redisGraceMs: 15_000,
    startedAt: 0,
    version: "0.0.0",
  };
}

/** The samples of /metrics for `stats`, the format checked line by line. */
async function scrapeOf(stats: WorkerStats) {
  return parseExposition(await createMetrics(() => inputs(stats)).text());
}

const HAIKU = { provider: "claude", model: "claude-haiku-4-5", queue: "llm" };

Deno.test("/metrics: ppr_llm_calls_total and ppr_llm_cost_usd_total by lane, direct being what the batch lane leaves of the totals", async () => {
  const stats = emptyStats();
  const figures = callStats(stats, HAIKU.provider, HAIKU.model, HAIKU.queue);
  figures.calls = 7;
  figures.costUsd = 0.75;
  figures.batchCalls = 5;
  figures.batchCostUsd = 0.25;
  const samples = await scrapeOf(stats);
  assert.equal(value(samples, "ppr_llm_calls_total", { ...HAIKU, lane: "direct" }), 2);
  assert.equal(value(samples, "ppr_llm_calls_total", { ...HAIKU, lane: "batch" }), 5);
  assert.equal(value(samples, "ppr_llm_cost_usd_total", { ...HAIKU, lane: "direct" }), 0.5);
  assert.equal(value(samples, "ppr_llm_cost_usd_total", { ...HAIKU, lane: "batch" }), 0.25);
  assert.equal(value(samples, "ppr_llm_calls_total", HAIKU), 7, "the lanes add up to the total");
  assert.equal(value(samples, "ppr_llm_cost_usd_total", HAIKU), 0.75);
});

Deno.test("/metrics: a provider, model and queue the batch lane never answered has a direct series only", async () => {
  const stats = emptyStats();
  callStats(stats, HAIKU.provider, HAIKU.model, HAIKU.queue).calls = 3;
  const samples = await scrapeOf(stats);
  const lanes = samples.filter((sample) => sample.name === "ppr_llm_calls_total")
    .map((sample) => sample.labels.lane);
  assert.deepEqual(lanes, ["direct"]);
  assert.equal(value(samples, "ppr_llm_calls_total", { ...HAIKU, lane: "direct" }), 3);
});

Deno.test("/metrics: calls of a model without a price have no ppr_llm_cost_usd_total series (unknown, not $0), only ppr_llm_calls_unpriced_total; a lane with priced calls keeps its series", async () => {
  const stats = emptyStats();
  const unpriced = callStats(stats, "openai", "local-llama", "llm");
  unpriced.calls = 4;
  unpriced.unpricedCalls = 4;
  const mixed = callStats(stats, HAIKU.provider, HAIKU.model, HAIKU.queue);
  mixed.calls = 8;
  mixed.unpricedCalls = 3;
  mixed.batchCalls = 5;
  mixed.batchCostUsd = 0.25;
  mixed.costUsd = 0.25;
  const samples = await scrapeOf(stats);
  const costs = samples.filter((sample) => sample.name === "ppr_llm_cost_usd_total");
  assert.deepEqual(costs.map((sample) => [sample.labels.model, sample.labels.lane]), [
    [HAIKU.model, "batch"],
  ]);
  assert.equal(value(samples, "ppr_llm_calls_unpriced_total", { model: "local-llama" }), 4);
  assert.equal(value(samples, "ppr_llm_calls_total", { model: "local-llama", lane: "direct" }), 4);
});

Deno.test("/metrics: the figures of an older worker's heartbeat (no batch fields) count as direct, and no sample is NaN", async () => {
  const older = {
    queues: {},
    providers: {},
    calls: {
      key: { ...HAIKU, calls: 4, costUsd: 0.04, inputTokens: 1, outputTokens: 1 },
    },
  } as unknown as WorkerStats;
  const samples = await scrapeOf(mergeStats([older]));
  assert.equal(value(samples, "ppr_llm_calls_total", { ...HAIKU, lane: "direct" }), 4);
  assert.equal(value(samples, "ppr_llm_cost_usd_total", { ...HAIKU, lane: "direct" }), 0.04);
  assert.deepEqual(samples.filter((sample) => Number.isNaN(sample.value)), []);
});

Deno.test("byLane: the direct lane never goes below 0 when the batch lane's sums round above the totals", () => {
  const [direct, batch] = byLane({
    calls: 3,
    costUsd: 0.1 + 0.2,
    batchCalls: 3,
    batchCostUsd: 0.30000000000000010,
  });
  assert.deepEqual(direct, { lane: "direct", calls: 0, costUsd: 0 });
  assert.equal(batch.calls, 3);
});

Deno.test("/metrics: ppr_queue_workers has one series per queue the poller counted workers of, with that count, and none without a read", async () => {
  const read = {
    ...inputs(emptyStats()),
    queueStats: {
      queues: [],
      queueWorkers: [{ queue: "llm", workers: 3 }, { queue: "pdf", workers: 0 }],
      providers: [],
      budgets: [],
      readAt: 0,
    },
  };
  const samples = parseExposition(await createMetrics(() => read).text());
  assert.deepEqual(
    samples.filter((sample) => sample.name === "ppr_queue_workers")
      .map(({ labels, value }) => ({ queue: labels.queue, value })),
    [{ queue: "llm", value: 3 }, { queue: "pdf", value: 0 }],
  );
  const unread = await scrapeOf(emptyStats());
  assert.equal(unread.filter((sample) => sample.name === "ppr_queue_workers").length, 0);
});

Deno.test("/metrics: ppr_autoscale_* has no series without an autoscaler, one unlabelled with --autoscale, and one per autoscaled pool of --pools under its pool label", async () => {
  const autoscaleOf = (samples: ReturnType<typeof parseExposition>) =>
    samples.filter((sample) => sample.name.startsWith("ppr_autoscale_"))
      .map(({ name, labels, value }) => ({ name, labels, value }));
  assert.deepEqual(autoscaleOf(await scrapeOf(emptyStats())), []);

  const single: HealthInputs = {
    ...inputs(emptyStats()),
    autoscale: { min: 1, max: 4, desired: 3, reason: "backlog", detail: "" },
  };
  assert.deepEqual(autoscaleOf(parseExposition(await createMetrics(() => single).text())), [
    { name: "ppr_autoscale_min_workers", labels: {}, value: 1 },
    { name: "ppr_autoscale_max_workers", labels: {}, value: 4 },
    { name: "ppr_autoscale_desired_workers", labels: {}, value: 3 },
    { name: "ppr_autoscale_decision", labels: { reason: "backlog" }, value: 1 },
  ]);

  const pools: HealthInputs = {
    ...inputs(emptyStats()),
    pools: [
      {
        name: "llm",
        queues: ["llm"],
        size: 2,
        concurrency: 1,
        autoscale: { min: 1, max: 3, desired: 2, reason: "steady", detail: "" },
      },
      { name: "recorder", queues: ["recorder"], size: 1, concurrency: 1 },
    ],
  };
  assert.deepEqual(autoscaleOf(parseExposition(await createMetrics(() => pools).text())), [
    { name: "ppr_autoscale_min_workers", labels: { pool: "llm" }, value: 1 },
    { name: "ppr_autoscale_max_workers", labels: { pool: "llm" }, value: 3 },
    { name: "ppr_autoscale_desired_workers", labels: { pool: "llm" }, value: 2 },
    { name: "ppr_autoscale_decision", labels: { pool: "llm", reason: "steady" }, value: 1 },
  ]);
});
