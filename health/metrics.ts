/** /metrics in the Prometheus text format, read from the same inputs as /health. */

import { Counter, Gauge, Registry } from "prom-client";
import type { Lane } from "../jobs/batch/lane.ts";
import {
  type CallStats,
  ERROR_CLASSES,
  type Histogram,
  SECONDS_BUCKETS,
  type WorkerStats,
} from "../protocol/stats.ts";
import type { JobState } from "../state/queues.ts";
import { type AutoscaleSnapshot, type HealthInputs, healthStatus, isAlive } from "./status.ts";

/**
 * The states `ppr_queue_jobs` has: the backlog. Completed jobs are counted by
 * `ppr_queue_jobs_completed_total` instead.
 */
const QUEUE_DEPTH_STATES: readonly JobState[] = [
  "waiting",
  "prioritized",
  "active",
  "delayed",
  "failed",
];

/** A registry whose metrics are filled from `inputs()` at each scrape. */
export function createMetrics(readInputs: () => HealthInputs) {
  const registry = new Registry();
  const perWorker = ["worker"] as const;
  // One snapshot per scrape, shared by every metric of it (the pool's figures are merged once).
  let scraped: HealthInputs | undefined;
  const inputs = () => scraped ?? readInputs();
  const gauge = (
    name: string,
    help: string,
    labelNames: readonly string[],
    fill: (g: Gauge) => void,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill(this);
      },
    });
  const counter = (
    name: string,
    help: string,
    labelNames: readonly string[],
    fill: (c: Counter) => void,
  ) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill(this);
      },
    });

  gauge(
    "ppr_workers_configured",
    "Worker processes this pool should run.",
    [],
    (g) => g.set(inputs().pool.size),
  );
  gauge(
    "ppr_pool_workers_configured",
    "With --pools: worker processes each pool should run.",
    ["pool"],
    (g) => {
      for (const pool of inputs().pools ?? []) g.set({ pool: pool.name }, pool.size);
    },
  );
  gauge(
    "ppr_workers_alive",
    "Worker processes running now.",
    [],
    (g) => g.set(inputs().pool.slots.filter(isAlive).length),
  );
  /**
   * Every autoscaler and the labels of its series: the one pool's without a label, each pool of
   * `--pools` with a range under its `pool`; none, no series (not a 0 that reads as a range).
   */
  const autoscalers = (): { labels: { pool?: string }; autoscale: AutoscaleSnapshot }[] => {
    const { autoscale, pools } = inputs();
    return [
      ...(autoscale ? [{ labels: {}, autoscale }] : []),
      ...(pools ?? []).flatMap((pool) =>
        pool.autoscale ? [{ labels: { pool: pool.name }, autoscale: pool.autoscale }] : []
      ),
    ];
  };
  for (
    const [bound, what] of [["min", "fewest"], ["max", "most"]] as const
  ) {
    gauge(
      `ppr_autoscale_${bound}_workers`,
      `With --autoscale (or a range in --pools, by pool): the ${what} worker processes the pool may have.`,
      ["pool"],
      (g) => {
        for (const { labels, autoscale } of autoscalers()) g.set(labels, autoscale[bound]);
      },
    );
  }
  gauge(
    "ppr_autoscale_desired_workers",
    "With --autoscale (or a range in --pools, by pool): the size the autoscaler last wanted.",
    ["pool"],
    (g) => {
      for (const { labels, autoscale } of autoscalers()) {
        if (autoscale.desired !== undefined) g.set(labels, autoscale.desired);
      }
    },
  );
  gauge(
    "ppr_autoscale_decision",
    "With --autoscale (or a range in --pools, by pool): 1 for the reason of the autoscaler's last decision.",
    ["pool", "reason"],
    (g) => {
      for (const { labels, autoscale } of autoscalers()) {
        if (autoscale.reason !== undefined) g.set({ ...labels, reason: autoscale.reason }, 1);
      }
    },
  );
  gauge("ppr_health_status", "1 for the current status of /health.", ["status"], (g) => {
    const { status } = healthStatus(inputs(), Date.now());
    for (const each of ["healthy", "degraded", "unhealthy"]) {
      g.set({ status: each }, each === status ? 1 : 0);
    }
  });
  gauge(
    "ppr_redis_up",
    "1 when Redis answers the supervisor's ping.",
    [],
    (g) => g.set(inputs().redis.connected ? 1 : 0),
  );
  gauge("ppr_redis_latency_seconds", "Round trip of the last Redis ping.", [], (g) => {
    const latencyMs = inputs().redis.latencyMs;
    if (latencyMs !== undefined) g.set(latencyMs / 1000);
  });
  gauge("ppr_worker_up", "1 while the worker's process runs.", perWorker, (g) => {
    for (const slot of inputs().pool.slots) g.set({ worker: slot.name }, isAlive(slot) ? 1 : 0);
  });
  gauge("ppr_worker_active_jobs", "Jobs in flight in the worker.", perWorker, (g) => {
    for (const slot of inputs().pool.slots) g.set({ worker: slot.name }, slot.activeJobs);
  });
  gauge("ppr_worker_resident_memory_bytes", "RSS of the worker process.", perWorker, (g) => {
    for (const slot of inputs().pool.slots) g.set({ worker: slot.name }, slot.rssBytes);
  });
  gauge(
    "ppr_queue_jobs",
    "Jobs in the queue by state, as last read (every few seconds).",
    ["queue", "state"],
    (g) => {
      for (const queue of inputs().queueStats?.queues ?? []) {
        for (const state of QUEUE_DEPTH_STATES) {
          g.set({ queue: queue.name, state }, queue.counts[state]);
        }
      }
    },
  );
  gauge(
    "ppr_queue_workers",
    "BullMQ Workers serving the queue, fleet-wide (every container's), as last read.",
    ["queue"],
    (g) => {
      for (const { queue, workers } of inputs().queueStats?.queueWorkers ?? []) {
        g.set({ queue }, workers);
      }
    },
  );
  gauge("ppr_queue_paused", "1 while the queue is paused (ppr-worker pause).", ["queue"], (g) => {
    for (const queue of inputs().queueStats?.queues ?? []) {
      g.set({ queue: queue.name }, queue.paused ? 1 : 0);
    }
  });
  gauge(
    "ppr_llm_paused",
    "1 while the provider is paused (auth_failed, quota_exceeded, budget or billing).",
    ["provider"],
    (g) => {
      for (const pause of inputs().queueStats?.providers ?? []) {
        g.set({ provider: pause.provider }, pause.state === "ok" ? 0 : 1);
      }
    },
  );
  gauge(
    "ppr_llm_pause_remaining_seconds",
    "Seconds until a paused provider is tried again; 0 when not paused.",
    ["provider"],
    (g) => {
      for (const pause of inputs().queueStats?.providers ?? []) {
        g.set({ provider: pause.provider }, pause.retry_in_s);
      }
    },
  );
  for (
    const [name, help, field] of [
      ["ppr_llm_budget_limit_usd", "The budget (LLM_BUDGET_USD) of its period.", "limitUsd"],
      ["ppr_llm_budget_spent_usd", "US dollars spent of the budget in its period.", "spentUsd"],
      [
        "ppr_llm_budget_reserved_usd",
        "US dollars the calls in flight hold of the budget (their worst case).",
        "reservedUsd",
      ],
      ["ppr_llm_budget_left_usd", "US dollars left of the budget in its period.", "leftUsd"],
    ] as const
  ) {
    gauge(name, help, ["budget"], (g) => {
      for (const budget of inputs().queueStats?.budgets ?? []) {
        g.set({ budget: budget.budget }, budget[field]);
      }
    });
  }
  counter("ppr_worker_restarts_total", "Restarts of the worker slot.", perWorker, (c) => {
    for (const slot of inputs().pool.slots) c.inc({ worker: slot.name }, slot.restarts);
  });
  counter("ppr_jobs_processed_total", "Jobs the worker slot completed.", perWorker, (c) => {
    for (const slot of inputs().pool.slots) c.inc({ worker: slot.name }, slot.processed);
  });
  counter(
    "ppr_jobs_failed_total",
    "Job attempts that failed in the worker slot.",
    perWorker,
    (c) => {
      for (const slot of inputs().pool.slots) c.inc({ worker: slot.name }, slot.failed);
    },
  );

  const stats = (): WorkerStats | undefined => inputs().pool.stats;
  counter("ppr_queue_jobs_completed_total", "Jobs completed, by queue.", ["queue"], (c) => {
    for (const [queue, each] of Object.entries(stats()?.queues ?? {})) {
      c.inc({ queue }, each.completed);
    }
  });
  counter(
    "ppr_queue_jobs_failed_total",
    "Tries that failed (retried or not), by queue.",
    ["queue"],
    (c) => {
      for (const [queue, each] of Object.entries(stats()?.queues ?? {})) {
        c.inc({ queue }, each.failed);
      }
    },
  );
  counter("ppr_llm_requests_total", "Calls to the LLM provider.", ["provider"], (c) => {
    for (const [provider, each] of Object.entries(stats()?.providers ?? {})) {
      c.inc({ provider }, each.requests);
    }
  });
  counter(
    "ppr_llm_errors_total",
    "Failed calls to the LLM provider, by failure class.",
    ["provider", "class"],
    (c) => {
      for (const [provider, each] of Object.entries(stats()?.providers ?? {})) {
        for (const kind of ERROR_CLASSES) c.inc({ provider, class: kind }, each.errors[kind]);
      }
    },
  );
  const calls = () => Object.values(stats()?.calls ?? {});
  const perCall = ["provider", "model", "queue"] as const;
  const callLabels = (each: CallStats) => ({
    provider: each.provider,
    model: each.model,
    queue: each.queue,
  });
  counter(
    "ppr_llm_tokens_total",
    "Tokens of the LLM calls answered, by provider, model, queue and kind " +
      "(input: uncached input; cache_write, cache_read: the provider's prompt cache).",
    [...perCall, "kind"],
    (c) => {
      for (const each of calls()) {
        const labels = callLabels(each);
        c.inc({ ...labels, kind: "input" }, each.inputTokens);
        c.inc({ ...labels, kind: "output" }, each.outputTokens);
        c.inc({ ...labels, kind: "cache_write" }, each.cacheWriteTokens);
        c.inc({ ...labels, kind: "cache_read" }, each.cacheReadTokens);
      }
    },
  );
  counter(
    "ppr_llm_cost_usd_total",
    "US dollars of the LLM calls answered whose model has a price, by provider, model, queue " +
      "and lane (direct: a call; batch: the provider's batch API, at its batch price); calls " +
      "without a price are in ppr_llm_calls_unpriced_total, never here as 0.",
    [...perCall, "lane"],
    (c) => {
      for (const each of calls()) {
        for (const { lane, calls, costUsd } of byLane(each)) {
          // Every call of the lane unpriced: its cost is unknown, and no series says $0.
          if (costUsd === 0 && calls > 0 && calls <= each.unpricedCalls) continue;
          c.inc({ ...callLabels(each), lane }, costUsd);
        }
      }
    },
  );
  counter(
    "ppr_llm_calls_total",
    "LLM calls answered, by provider, model, queue and lane (direct: a call; batch: the " +
      "provider's batch API); result-cache hits are not calls.",
    [...perCall, "lane"],
    (c) => {
      for (const each of calls()) {
        for (const { lane, calls } of byLane(each)) c.inc({ ...callLabels(each), lane }, calls);
      }
    },
  );
  counter(
    "ppr_llm_calls_unpriced_total",
    "LLM calls whose model has no price (LLM_PRICES): their cost is unknown, not zero.",
    perCall,
    (c) => {
      for (const each of calls()) c.inc(callLabels(each), each.unpricedCalls);
    },
  );
  counter(
    "ppr_llm_fallback_calls_total",
    "LLM calls made on this provider as the fallback of a paused or overloaded one.",
    perCall,
    (c) => {
      for (const each of calls()) c.inc(callLabels(each), each.fallbacks);
    },
  );
  counter(
    "ppr_llm_result_cache_total",
    "Result-cache lookups, by outcome (hit: answered without a call).",
    [...perCall, "result"],
    (c) => {
      for (const each of calls()) {
        c.inc({ ...callLabels(each), result: "hit" }, each.cacheHits);
        c.inc({ ...callLabels(each), result: "miss" }, each.cacheMisses);
      }
    },
  );
  counter(
    "ppr_llm_result_cache_saved_usd_total",
    "US dollars the result cache's answers cost when they were first paid for.",
    perCall,
    (c) => {
      for (const each of calls()) c.inc(callLabels(each), each.savedUsd);
    },
  );
  counter(
    "ppr_llm_rate_limit_waits_total",
    "Jobs that waited for the fleet's token-rate limit (LLM_RATE_LIMITS) instead of calling.",
    perCall,
    (c) => {
      for (const each of calls()) c.inc(callLabels(each), each.rateLimitWaits);
    },
  );
  counter(
    "ppr_llm_budget_refusals_total",
    "Jobs a budget (LLM_BUDGET_USD) held back.",
    perCall,
    (c) => {
      for (const each of calls()) c.inc(callLabels(each), each.budgetRefusals);
    },
  );
  return {
    contentType: registry.contentType,
    /** The exposition: prom-client's metrics, then the histograms built from the workers' buckets. */
    text: async () => {
      scraped = readInputs();
      try {
        const queues = Object.entries(scraped.pool.stats?.queues ?? {});
        return (await registry.metrics()) +
          histogramText(
            "ppr_job_duration_seconds",
            "How long a try of a job ran, by queue.",
            queues.map(([queue, each]) => ({ labels: { queue }, histogram: each.durationSeconds })),
          ) +
          histogramText(
            "ppr_job_wait_seconds",
            "How long a job waited before it started, by queue.",
            queues.map(([queue, each]) => ({ labels: { queue }, histogram: each.waitSeconds })),
          );
      } finally {
        scraped = undefined;
      }
    },
  };
}

/**
 * The calls and dollars of `stats` by lane: `direct` is what the batch lane's figures leave of
 * the totals (a heartbeat of an older version has none: all its calls were direct); `batch`
 * only once the batch lane answered a call of this provider, model and queue, so that the lane
 * that is not used adds no series.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { byLane } from "./metrics.ts";
 *
 * assert.deepEqual(byLane({ calls: 5, costUsd: 0.5, batchCalls: 2, batchCostUsd: 0.1 }), [
 *   { lane: "direct", calls: 3, costUsd: 0.4 },
 *   { lane: "batch", calls: 2, costUsd: 0.1 },
 * ]);
 * assert.deepEqual(byLane({ calls: 1, costUsd: 0.2 }), [{ lane: "direct", calls: 1, costUsd: 0.2 }]);
 * ```
 */
export function byLane(
  stats:
    & Pick<CallStats, "calls" | "costUsd">
    & Partial<Pick<CallStats, "batchCalls" | "batchCostUsd">>,
): { lane: Lane; calls: number; costUsd: number }[] {
  const batchCalls = stats.batchCalls ?? 0;
  const batchCostUsd = stats.batchCostUsd ?? 0;
  // A counter never goes down: the rounding of a difference of sums must not make it negative.
  const direct = {
    lane: "direct" as const,
    calls: Math.max(0, stats.calls - batchCalls),
    costUsd: Math.max(0, stats.costUsd - batchCostUsd),
  };
  if (batchCalls === 0 && batchCostUsd === 0) return [direct];
  return [direct, { lane: "batch", calls: batchCalls, costUsd: batchCostUsd }];
}

function labelText(labels: Record<string, string>): string {
  return Object.entries(labels).map(([key, value]) =>
    `${key}="${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`
  ).join(",");
}

/**
 * A histogram family in the Prometheus text format from per-bucket counts (the workers keep
 * them; prom-client's histograms only take single observations).
 */
export function histogramText(
  name: string,
  help: string,
  series: { labels: Record<string, string>; histogram: Histogram }[],
): string {
  let out = `# HELP ${name} ${help}\n# TYPE ${name} histogram\n`;
  for (const { labels, histogram } of series) {
    const base = labelText(labels);
    let cumulative = 0;
    SECONDS_BUCKETS.forEach((bound, index) => {
      cumulative += histogram.buckets[index] ?? 0;
      out += `${name}_bucket{${base},le="${bound}"} ${cumulative}\n`;
    });
    out += `${name}_bucket{${base},le="+Inf"} ${histogram.count}\n`;
    out += `${name}_sum{${base}} ${histogram.sum}\n`;
    out += `${name}_count{${base}} ${histogram.count}\n`;
  }
  return out;
}
