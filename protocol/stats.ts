/**
 * A worker's job and provider figures since it started, sent with its heartbeats: counts and
 * histograms the supervisor adds up across its workers (and their predecessors) for /metrics.
 */

/** Upper bounds, in seconds, of the job duration and wait histograms: milliseconds to minutes. */
export const SECONDS_BUCKETS = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  120,
  300,
  600,
] as const;

/** Observations per bucket (not cumulative; the last entry counts those above every bound), their sum and count. */
export interface Histogram {
  buckets: number[];
  sum: number;
  count: number;
}

/** The failure classes a provider call can end in (`FailureKind` of providers/errors.ts). */
export const ERROR_CLASSES = [
  "invalid",
  "auth",
  "quota",
  "overloaded",
  "billing",
  "transient",
] as const;

/** One queue's figures. */
export interface QueueStats {
  completed: number;
  failed: number;
  /** From the job's start in this worker to its end. */
  durationSeconds: Histogram;
  /** From when the job could first run (added, or its delay over) to its start. */
  waitSeconds: Histogram;
}

/** One LLM provider's figures. */
export interface ProviderStats {
  requests: number;
  errors: Record<typeof ERROR_CLASSES[number], number>;
  inputTokens: number;
  outputTokens: number;
}

/** The tokens and dollars of the LLM jobs of one provider, model and queue. */
export interface CallStats {
  provider: string;
  model: string;
  queue: string;
  /** Calls answered (a result-cache hit is no call). */
  calls: number;
  inputTokens: number;
  outputTokens: number;
  cacheWriteTokens: number;
  cacheReadTokens: number;
  /** US dollars of the calls whose cost is known. */
  costUsd: number;
  /** Calls whose cost is unknown (no price for the model): never counted as free. */
  unpricedCalls: number;
  /** Of the calls, those made on this provider as a fallback of another. */
  fallbacks: number;
  cacheHits: number;
  cacheMisses: number;
  /** What the result cache's answers cost when they were first paid for. */
  savedUsd: number;
  /** Jobs that waited for the fleet's rate limit instead of calling. */
  rateLimitWaits: number;
  /** Jobs a budget held back. */
  budgetRefusals: number;
  /** Of the calls, those answered in a provider's batch API (the batch lane). */
  batchCalls: number;
  /** Of `costUsd`, what the batch lane's calls cost (at the batch price). */
  batchCostUsd: number;
}

/** Everything a worker has counted, by queue, by provider, and by provider, model and queue. */
export interface WorkerStats {
  queues: Record<string, QueueStats>;
  providers: Record<string, ProviderStats>;
  /** By `callStatsKey(provider, model, queue)`; absent in a heartbeat of an older version. */
  calls?: Record<string, CallStats>;
}

/** An empty histogram with the standard buckets. */
export function emptyHistogram(): Histogram {
  return { buckets: new Array(SECONDS_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
}

/** Adds one observation of `seconds` to `histogram`. */
export function observe(histogram: Histogram, seconds: number): void {
  const index = SECONDS_BUCKETS.findIndex((bound) => seconds <= bound);
  histogram.buckets[index < 0 ? SECONDS_BUCKETS.length : index]++;
  histogram.sum += seconds;
  histogram.count++;
}

/** Empty figures. */
export function emptyStats(): WorkerStats {
  return { queues: {}, providers: {}, calls: {} };
}

/** The key of a provider, model and queue in `WorkerStats.calls`. */
export function callStatsKey(provider: string, model: string, queue: string): string {
  return `${provider}\u0000${model}\u0000${queue}`;
}

/** The fields of `CallStats` that add up. */
const CALL_COUNTS = [
  "calls",
  "inputTokens",
  "outputTokens",
  "cacheWriteTokens",
  "cacheReadTokens",
  "costUsd",
  "unpricedCalls",
  "fallbacks",
  "cacheHits",
  "cacheMisses",
  "savedUsd",
  "rateLimitWaits",
  "budgetRefusals",
  "batchCalls",
  "batchCostUsd",
] as const;

/** The figures of `provider`'s `model` in `queue`, created on first use. */
export function callStats(
  stats: WorkerStats,
  provider: string,
  model: string,
  queue: string,
): CallStats {
  const key = callStatsKey(provider, model, queue);
  let entry = (stats.calls ??= {})[key];
  if (!entry) {
    entry = { provider, model, queue } as CallStats;
    for (const field of CALL_COUNTS) entry[field] = 0;
    stats.calls![key] = entry;
  }
  return entry;
}

/** A call's token counts, in Anthropic's four kinds (the providers' `Usage`). */
export interface TokenCounts {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/**
 * Counts one answered call in `figures`: its tokens, and its cost when known (`undefined`: the
 * model has no price, counted as unpriced, never as free); a call of the batch lane in its share
 * too.
 */
export function countCall(
  figures: CallStats,
  usage: TokenCounts,
  costUsd: number | undefined,
  lane: "direct" | "batch" = "direct",
): void {
  figures.calls++;
  figures.inputTokens += usage.input_tokens;
  figures.outputTokens += usage.output_tokens;
  figures.cacheWriteTokens += usage.cache_creation_input_tokens ?? 0;
  figures.cacheReadTokens += usage.cache_read_input_tokens ?? 0;
  if (costUsd === undefined) figures.unpricedCalls++;
  else figures.costUsd += costUsd;
  if (lane === "batch") {
    figures.batchCalls++;
    if (costUsd !== undefined) figures.batchCostUsd += costUsd;
  }
}

/** The figures of `queue`, created on first use. */
export function queueStats(stats: WorkerStats, queue: string): QueueStats {
  return stats.queues[queue] ??= {
    completed: 0,
    failed: 0,
    durationSeconds: emptyHistogram(),
    waitSeconds: emptyHistogram(),
  };
}

/** The figures of `provider`, created on first use. */
export function providerStats(stats: WorkerStats, provider: string): ProviderStats {
  return stats.providers[provider] ??= {
    requests: 0,
    errors: Object.fromEntries(ERROR_CLASSES.map((kind) => [kind, 0])) as ProviderStats["errors"],
    inputTokens: 0,
    outputTokens: 0,
  };
}

/**
 * A figure of a heartbeat as a number to add: 0 for one it does not have (a worker of an older
 * version, without the batch lane's `batchCalls` and `batchCostUsd`) or that is not a finite
 * number, so that a sum is never `NaN`.
 */
function countOf(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function addHistogram(into: Histogram, from: Histogram): void {
  for (let index = 0; index < into.buckets.length; index++) {
    into.buckets[index] += from.buckets[index] ?? 0;
  }
  into.sum += from.sum;
  into.count += from.count;
}

/**
 * The sum of every `WorkerStats` given: what the pool has done. Each input is left as it is.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { emptyStats, mergeStats, queueStats } from "./stats.ts";
 *
 * const a = emptyStats();
 * queueStats(a, "llm").completed = 2;
 * assert.equal(mergeStats([a, a]).queues.llm.completed, 4);
 * assert.equal(a.queues.llm.completed, 2);
 * ```
 */
export function mergeStats(all: readonly (WorkerStats | undefined)[]): WorkerStats {
  const total = emptyStats();
  for (const stats of all) {
    if (!stats) continue;
    for (const [queue, each] of Object.entries(stats.queues)) {
      const into = queueStats(total, queue);
      into.completed += each.completed;
      into.failed += each.failed;
      addHistogram(into.durationSeconds, each.durationSeconds);
      addHistogram(into.waitSeconds, each.waitSeconds);
    }
    for (const each of Object.values(stats.calls ?? {})) {
      const into = callStats(total, each.provider, each.model, each.queue);
      for (const field of CALL_COUNTS) into[field] += countOf(each[field]);
    }
    for (const [provider, each] of Object.entries(stats.providers)) {
      const into = providerStats(total, provider);
      into.requests += each.requests;
      for (const kind of ERROR_CLASSES) into.errors[kind] += each.errors[kind] ?? 0;
      into.inputTokens += each.inputTokens;
      into.outputTokens += each.outputTokens;
    }
  }
  return total;
}

/** Whether `value` has the shape of `WorkerStats` (a heartbeat from another version may not). */
export function isWorkerStats(value: unknown): value is WorkerStats {
  if (typeof value !== "object" || value === null) return false;
  const stats = value as Record<string, unknown>;
  return typeof stats.queues === "object" && stats.queues !== null &&
    typeof stats.providers === "object" && stats.providers !== null;
}
