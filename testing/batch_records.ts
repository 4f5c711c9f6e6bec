/** The batch lane's records for tests: one as the store parses it, and one written to Redis by the store's own steps. */

import { strict as assert } from "node:assert";
import type { Redis } from "ioredis";
import { type BatchRecord, collectJob, markSubmitted, takeIntoBatch } from "../jobs/batch/store.ts";

/**
 * A batch's record as `readBatch` gives it: by default open at claude (`msgbatch_01`,
 * `in_progress`), 2 jobs of queue llm for claude-haiku-4-5, created at 0, nothing read yet;
 * `fields` override.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { batchRecord } from "./batch_records.ts";
 *
 * assert.equal(batchRecord({ phase: "done" }).phase, "done");
 * ```
 */
export function batchRecord(fields: Partial<BatchRecord> = {}): BatchRecord {
  return {
    id: "0123456789abcdef",
    provider: "claude",
    model: "claude-haiku-4-5",
    queue: "llm",
    phase: "open",
    jobs: ["llm:1", "llm:2"],
    createdMs: 0,
    providerId: "msgbatch_01",
    providerStatus: "in_progress",
    stored: 0,
    costUsd: 0,
    unpriced: 0,
    succeeded: 0,
    failed: 0,
    polls: 1,
    ...fields,
  };
}

/** How {@link recordBatch} records a batch. */
export interface RecordBatchOptions {
  /** When its jobs were collected and it was taken (ms). */
  createdMs: number;
  /** @default {"claude-haiku-4-5"} */
  model?: string;
  /** The provider's id: the batch is `open` with it; without it, it stays `submitting`. */
  providerId?: string;
  /** When the desk is to look at it next (ms). @default {an hour from now} */
  nextPollMs?: number;
}

/**
 * Records claude batch `id` of `refs` (job refs of queue llm) as the desk does: collected, taken
 * (`submitting`), described and, with a `providerId`, accepted by the provider (`open`).
 *
 * @example
 * ```ts
 * import type { Redis } from "ioredis";
 * import { recordBatch } from "./batch_records.ts";
 *
 * // Needs a Redis server, so it is a function: `deno test --doc` type-checks it, never calls it.
 * async function oneOpenBatch(redis: Redis): Promise<void> {
 *   await recordBatch(redis, "b1", ["llm:1"], { createdMs: Date.now(), providerId: "msgbatch_1" });
 * }
 * ```
 */
export async function recordBatch(
  redis: Redis,
  id: string,
  refs: string[],
  options: RecordBatchOptions,
): Promise<void> {
  for (const ref of refs) await collectJob(redis, ref, options.createdMs);
  const batch = { provider: "claude", model: options.model ?? "claude-haiku-4-5", queue: "llm" };
  assert.deepEqual(await takeIntoBatch(redis, id, batch, refs, options.createdMs), refs);
  if (options.providerId === undefined) return;
  await markSubmitted(
    redis,
    id,
    "claude",
    options.providerId,
    options.nextPollMs ?? Date.now() + 3_600_000,
    { nowMs: options.createdMs },
  );
}
