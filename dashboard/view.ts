/** ppr-worker's own view beside bull-board: each queue and its processor, the providers' pauses, every worker, the spend, the batches, the charts' series. */

import type { Queue } from "bullmq";
import type { RedisClient } from "../redis/connection.ts";
import type { ProcessorSpec } from "../config/config.ts";
import { type BatchListing, readBatchListing } from "../jobs/batch/listing.ts";
import { redact } from "../log/redact.ts";
import { type ProviderPause, readProviderPauses } from "../state/pauses.ts";
import type { QueueInfo } from "../state/queues.ts";
import { type AutoscaleRecord, readSnapshot } from "../state/snapshot.ts";
import { type QueueJobRates, readJobRates } from "../state/job_rates.ts";
import { type ProviderPauseHistory, readPauseHistories } from "../state/pause_history.ts";
import type { BudgetSettings, Spend } from "../state/spend.ts";
import type { WorkerInfo } from "../state/workers.ts";

/** Where a queue comes from in the configuration. */
export type QueueRole = "QUEUE_NAME" | "LLM_RESULT_QUEUES";

/** One queue: its counts (as `info` shows them), with its place in the configuration and what runs its jobs. */
export interface QueueView extends QueueInfo {
  roles: QueueRole[];
  /** What runs its jobs here (`llm`, `recorder`, `per-job: <command>`), or `none`. */
  processor: string;
}

/** One worker (as `info` shows it), with its restarts when the pool beside the dashboard knows them. */
export interface WorkerView extends WorkerInfo {
  /** `null` when unknown: only the supervisor of a worker counts its restarts. */
  restarts: number | null;
}

/** Everything the view shows at one moment; also the body of `/api/ppr`. */
export interface PprView {
  at: string;
  /** The Redis URL, password hidden. */
  redis: string;
  prefix: string;
  read_only: boolean;
  queues: QueueView[];
  providers: ProviderPause[];
  workers: WorkerView[];
  /** Every host's autoscaling pools: range, size, and the last decision with its reason. */
  autoscalers: AutoscaleRecord[];
  /** What the fleet spent on LLM calls, today and in total, and its budgets. */
  spend: Spend;
  /** The fleet's batches in the providers' batch APIs: open, and ended within 7 days. */
  batches: BatchListing;
  /** Each `QUEUE_NAME` queue's jobs completed and failed per minute, the last 3 hours. */
  job_rates: QueueJobRates[];
  /** Each provider's pauses, the last 24 hours. */
  pause_history: ProviderPauseHistory[];
}

/** The most batches ended within 7 days the view shows, newest first. */
export const RECENT_BATCHES = 10;

/** What the view reads: the pool's Redis settings, its queues and processors, the providers. */
export interface PprViewSource {
  redisUrl: string;
  prefix: string;
  /** `QUEUE_NAME`. */
  queues: readonly string[];
  /** `LLM_RESULT_QUEUES`. */
  resultQueues: readonly string[];
  /** `QUEUE_PROCESSORS`, as the configuration parsed it. */
  processors: Readonly<Record<string, ProcessorSpec>>;
  /** The providers of this build. */
  providers: readonly string[];
  /** `LLM_BUDGET_USD` and `LLM_BUDGET_PERIOD`: the budgets shown with what is left. */
  budgets: BudgetSettings;
  readOnly: boolean;
  /**
   * Restart counts by worker name, from the pool beside the dashboard (its own snapshot, in
   * process); absent when the dashboard runs alone, or `undefined` before the pool has started.
   */
  restarts?: () => ReadonlyMap<string, number> | undefined;
}

/**
 * Every queue the dashboard shows: `QUEUE_NAME`, then the `LLM_RESULT_QUEUES` not already in it.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { dashboardQueues } from "./view.ts";
 *
 * assert.deepEqual(dashboardQueues(["llm"], ["recorder", "llm"]), ["llm", "recorder"]);
 * ```
 */
export function dashboardQueues(
  queues: readonly string[],
  resultQueues: readonly string[],
): string[] {
  return [...new Set([...queues, ...resultQueues])];
}

/**
 * What runs a queue's jobs, in a few words; commands with secrets hidden.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { describeProcessor } from "./view.ts";
 *
 * assert.equal(describeProcessor({ kind: "llm" }), "llm");
 * assert.equal(
 *   describeProcessor({ kind: "external", mode: "persistent", command: ["python3", "w.py"] }),
 *   "persistent: python3 w.py",
 * );
 * assert.equal(describeProcessor(undefined), "none");
 * ```
 */
export function describeProcessor(spec: ProcessorSpec | undefined): string {
  if (spec === undefined) return "none";
  if (spec.kind !== "external") return spec.kind;
  const words = spec.command.map((word) => /[\s'"\\;]/.test(word) ? JSON.stringify(word) : word);
  return redact(`${spec.mode}: ${words.join(" ")}`);
}

/** Reads the whole view: the read model's snapshot of every worker and queue, the pauses, the processors, the batches. */
export async function readPprView(
  redis: RedisClient,
  source: PprViewSource,
  openQueues?: ReadonlyMap<string, Queue>,
): Promise<PprView> {
  const queueNames = dashboardQueues(source.queues, source.resultQueues);
  const [snapshot, providers, batches, jobRates, pauseHistory] = await Promise.all([
    // Every worker on this Redis, of every container; the queues are this configuration's.
    readSnapshot(redis, {
      redisUrl: source.redisUrl,
      prefix: source.prefix,
      queues: queueNames,
      discoverQueues: true,
      openQueues,
      budgets: source.budgets,
    }),
    readProviderPauses(redis, source.providers),
    readBatchListing(redis, { recent: RECENT_BATCHES }),
    readJobRates(redis, { prefix: source.prefix }, source.queues, { openQueues }),
    readPauseHistories(redis, source.providers),
  ]);
  const restarts = source.restarts?.();
  return {
    at: snapshot.at,
    redis: snapshot.redis,
    prefix: snapshot.prefix,
    read_only: source.readOnly,
    queues: snapshot.queues
      .filter((queue) => queueNames.includes(queue.name))
      .map((queue) => ({
        ...queue,
        roles: [
          ...(source.queues.includes(queue.name) ? ["QUEUE_NAME" as const] : []),
          ...(source.resultQueues.includes(queue.name) ? ["LLM_RESULT_QUEUES" as const] : []),
        ],
        processor: source.queues.includes(queue.name)
          ? describeProcessor(source.processors[queue.name])
          : "none",
      })),
    providers,
    spend: snapshot.spend!,
    batches,
    job_rates: jobRates,
    pause_history: pauseHistory,
    workers: snapshot.workers.map((worker) => ({
      ...worker,
      restarts: restarts?.get(worker.name) ?? null,
    })),
    autoscalers: snapshot.autoscalers,
  };
}
