/**
 * The fleet's batches as operators see them (`ppr-worker batches`, the dashboard): the open ones
 * and those that ended within 7 days, each with its age, its cost at the batch price and its state
 * in words. Reads through `store.ts`, which owns the keys.
 */

import type { RedisClient } from "../../redis/connection.ts";
import { BATCH_KEEP_MS, type BatchPhase, type BatchRecord, listBatches } from "./store.ts";

/** One batch as the `batches` command (`--json`: this object) and `/api/ppr` show it. */
export interface BatchView {
  /** ppr-worker's id of the batch (what `ppr-worker batches cancel` takes). */
  id: string;
  provider: string;
  /** The provider's id; `null` while it is `submitting`, or when the provider refused it. */
  provider_batch_id: string | null;
  queue: string;
  model: string;
  /** Jobs in it: one request each. */
  jobs: number;
  phase: BatchPhase;
  /** The provider's own word for its state, as last seen (`in_progress`, `ended`, ...). */
  provider_status: string | null;
  /** When its submission began, ISO. */
  created_at: string;
  /** When it was done, ISO; `null` while it is not. */
  ended_at: string | null;
  /** Seconds since it was created. */
  age_s: number;
  /** What its answers cost at the batch price, in US dollars, as far as stored. */
  cost_usd: number;
  /** Answers of a model without a price: their cost is unknown, never counted as 0. */
  unpriced: number;
  /** Outcomes stored so far (all of them once it is done). */
  stored: number;
  succeeded: number;
  failed: number;
  /** Why it ended without a provider batch (the provider refused its create); else `null`. */
  error: string | null;
}

/**
 * A batch's record as it is shown at `nowMs`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { batchView } from "./listing.ts";
 *
 * const record = {
 *   id: "b1", provider: "claude", model: "claude-haiku-4-5", queue: "llm", phase: "open" as const,
 *   jobs: ["llm:1", "llm:2"], createdMs: 0, providerId: "msgbatch_1", stored: 0, costUsd: 0,
 *   unpriced: 0, succeeded: 0, failed: 0, polls: 1,
 * };
 * const view = batchView(record, 90_000);
 * assert.equal(view.jobs, 2);
 * assert.equal(view.age_s, 90);
 * assert.equal(view.provider_status, null);
 * ```
 */
export function batchView(record: BatchRecord, nowMs: number): BatchView {
  return {
    id: record.id,
    provider: record.provider,
    provider_batch_id: record.providerId ?? null,
    queue: record.queue,
    model: record.model,
    jobs: record.jobs.length,
    phase: record.phase,
    provider_status: record.providerStatus ?? null,
    created_at: new Date(record.createdMs).toISOString(),
    ended_at: record.endedMs === undefined ? null : new Date(record.endedMs).toISOString(),
    age_s: Math.max(0, Math.floor((nowMs - record.createdMs) / 1000)),
    cost_usd: record.costUsd,
    unpriced: record.unpriced,
    stored: record.stored,
    succeeded: record.succeeded,
    failed: record.failed,
    error: record.error ?? null,
  };
}

/** The fleet's batches at one moment: the open ones and the recent ones, newest first. */
export interface BatchListing {
  /** Not done yet: `submitting` or `open`. */
  open: BatchView[];
  /** Done within the last 7 days (as long as their records are kept). */
  recent: BatchView[];
}

/**
 * Reads the open batches and the `recent` newest of those done within 7 days. Rejects when
 * Redis does.
 *
 * @example
 * ```ts
 * import type { Redis } from "ioredis";
 * import { readBatchListing } from "./listing.ts";
 *
 * // Needs a Redis server, so it is a function: `deno test --doc` type-checks it, never calls it.
 * async function openBatches(redis: Redis): Promise<number> {
 *   return (await readBatchListing(redis, { recent: 20 })).open.length;
 * }
 * ```
 */
export async function readBatchListing(
  redis: RedisClient,
  options: { recent: number; nowMs?: number },
): Promise<BatchListing> {
  const nowMs = options.nowMs ?? Date.now();
  const { open, recent } = await listBatches(redis, { recent: options.recent });
  return {
    open: open.map((record) => batchView(record, nowMs)),
    recent: recent
      .filter((record) => (record.endedMs ?? record.createdMs) >= nowMs - BATCH_KEEP_MS)
      .map((record) => batchView(record, nowMs)),
  };
}

/**
 * A batch's state in words: its phase, and the provider's status once there is one; a batch
 * the provider refused says so.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { batchStateText } from "./listing.ts";
 *
 * assert.equal(batchStateText({ phase: "open", provider_status: "in_progress", error: null }), "open (in_progress)");
 * assert.equal(batchStateText({ phase: "open", provider_status: null, error: null }), "open (not looked at yet)");
 * assert.equal(batchStateText({ phase: "done", provider_status: null, error: "bad" }), "done (refused)");
 * assert.equal(batchStateText({ phase: "submitting", provider_status: null, error: null }), "submitting");
 * ```
 */
export function batchStateText(
  view: Pick<BatchView, "phase" | "provider_status" | "error">,
): string {
  if (view.phase === "submitting") return "submitting";
  if (view.phase === "done" && view.error !== null) return "done (refused)";
  return `${view.phase} (${view.provider_status ?? "not looked at yet"})`;
}

/**
 * What a batch cost at the batch price, in words: dollars to the hundredth of a cent, and the
 * answers of unpriced models as an unknown part (never a silent 0); `-` while no answer of an
 * unfinished batch is read.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { batchCostText } from "./listing.ts";
 *
 * const done = { phase: "done" as const, stored: 3 };
 * assert.equal(batchCostText({ ...done, cost_usd: 0.0123, unpriced: 0, succeeded: 3 }), "$0.0123");
 * assert.equal(
 *   batchCostText({ ...done, cost_usd: 0.01, unpriced: 1, succeeded: 3 }),
 *   "$0.0100 + unknown (1 unpriced)",
 * );
 * assert.equal(batchCostText({ ...done, cost_usd: 0, unpriced: 3, succeeded: 3 }), "unknown (3 unpriced)");
 * assert.equal(
 *   batchCostText({ phase: "open", stored: 0, cost_usd: 0, unpriced: 0, succeeded: 0 }),
 *   "-",
 * );
 * ```
 */
export function batchCostText(
  view: Pick<BatchView, "phase" | "stored" | "cost_usd" | "unpriced" | "succeeded">,
): string {
  if (view.phase !== "done" && view.stored === 0) return "-";
  const dollars = `$${view.cost_usd.toFixed(4)}`;
  if (view.unpriced === 0) return dollars;
  const unknown = `unknown (${view.unpriced} unpriced)`;
  return view.succeeded > view.unpriced ? `${dollars} + ${unknown}` : unknown;
}
