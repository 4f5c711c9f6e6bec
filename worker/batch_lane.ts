/**
 * A try of an LLM job in the batch lane, as a worker runs it. The first try collects the job for
 * the fleet's batch desk and parks it in `delayed`: it holds no slot and no lock while its batch
 * is open. When the desk has stored the job's outcome it wakes the job, and the try that takes it
 * then completes it through the direct lane's path (schema check, result routing), or fails it by
 * the job's retry policy.
 */

import type { Job } from "bullmq";
import { DelayedError, UnrecoverableError } from "bullmq/errors";
import type { RedisClient } from "../redis/connection.ts";
import type { Config } from "../config/config.ts";
import {
  batchClientCache,
  batchPlanOf,
  batchRefusal,
  refusedFromBatch,
} from "../jobs/batch/lane.ts";
import {
  batchKey,
  collectJob,
  dropOutcome,
  forgetCollected,
  forgetEarlierJob,
  jobRef,
  placeOf,
  type StoredOutcome,
} from "../jobs/batch/store.ts";
import type { JobResult, PreparedJob, Spending } from "../jobs/llm/runner.ts";
import { parseStructured } from "../jobs/llm/structured.ts";
import type { createResultRouter } from "../jobs/results.ts";
import { callStats, countCall, type WorkerStats } from "../protocol/stats.ts";
import { LlmError } from "../providers/errors.ts";
import type { ProviderContext } from "../providers/provider.ts";
import type { InFlightJob } from "./in_flight.ts";
import {
  llmCallSpanName,
  llmRequestAttributes,
  llmResponseAttributes,
} from "../telemetry/gen_ai.ts";
import { isTracing, type Span, SpanKind, withSpan } from "../telemetry/tracing.ts";

/** A job's result from the batch lane: the direct lane's, with the batch it came in. */
export interface BatchJobResult extends JobResult {
  lane: "batch";
  /** ppr-worker's id of the batch (`ppr-worker batches` lists it). */
  batch_id: string;
}

/**
 * How long a collected job waits in `delayed` if nothing wakes it: a batch's 24 hours, the longest
 * collection, and an hour more. When it comes back by itself, its try looks again.
 */
export function parkedForMs(config: Pick<Config, "batchMaxWaitMs">): number {
  return 25 * 3_600_000 + config.batchMaxWaitMs;
}

/** What the batch lane of a worker process needs. */
export interface BatchLaneOptions {
  context: ProviderContext;
  redis: RedisClient;
  stats: WorkerStats;
  spending: Spending;
  results: ReturnType<typeof createResultRouter>;
}

/** The batch lane of one worker process: `run(job, entry, prepared)` is one try of a job in it. */
export function createBatchLane(options: BatchLaneOptions) {
  const { context, redis, spending } = options;
  const { config } = context;
  const clientOf = batchClientCache(context);

  /** Parks the job in `delayed` until the desk wakes it; no attempt spent. */
  const park = async (job: Job, entry: InFlightJob): Promise<never> => {
    await job.moveToDelayed(Date.now() + parkedForMs(config), entry.token);
    throw new DelayedError();
  };

  return {
    async run(job: Job, entry: InFlightJob, prepared: PreparedJob): Promise<BatchJobResult> {
      const ref = jobRef(job.queueName, String(job.id));
      let found = await placeOf(redis, ref);
      if (found && job.attemptsStarted <= 1) {
        // Its first take: this job was never collected, so an outcome or a place under its ref
        // is an earlier job's with the same id (a producer that names its jobs adds one again
        // once the first is gone): never this job's answer.
        await forgetEarlierJob(redis, ref);
        found = undefined;
      }
      if (found && "outcome" in found) {
        return await complete(job, ref, prepared, found.outcome);
      }
      if (found) {
        // Collected, or in a batch: woken too early (its park ran out). A batch whose record is
        // gone (Redis lost it) can never wake it: it is collected again.
        if (found.place === "collecting" || await redis.exists(batchKey(found.place)) === 1) {
          return await park(job, entry);
        }
        await forgetCollected(redis, ref);
      }
      const plan = batchPlanOf(prepared, context, spending.pricing);
      const refusal = batchRefusal(
        plan,
        clientOf(plan.provider),
        prepared.job,
        spending.ledger.hasBudget(plan.provider, job.queueName),
      );
      if (refusal) throw refusedFromBatch(refusal);
      await collectJob(redis, ref);
      return await park(job, entry);
    },
  };

  /**
   * Completes the job with its stored outcome, or fails this try with the outcome's error, inside
   * the span of its call in the batch (`chat <model>`, `ppr.lane` batch), from its collection to
   * now, with the answer's tokens and cost.
   */
  function complete(
    job: Job,
    ref: string,
    prepared: PreparedJob,
    stored: StoredOutcome,
  ): Promise<BatchJobResult> {
    if (!isTracing()) return completeIn(undefined, job, ref, prepared, stored);
    // The model the batch was built for (`default`: the provider's), and the one that answered.
    const asked = batchPlanOf(prepared, context, spending.pricing).model;
    const answered = stored.outcome === "succeeded" ? stored.result.model || asked : asked;
    return withSpan({
      name: llmCallSpanName(answered),
      kind: SpanKind.CLIENT,
      startTime: stored.outcome === "succeeded" ? stored.collectedMs : undefined,
      attributes: {
        ...llmRequestAttributes({
          provider: prepared.providerName,
          model: asked,
          queue: job.queueName,
          lane: "batch",
        }),
        "ppr.batch_id": stored.batchId,
      },
    }, (span) => completeIn(span, job, ref, prepared, stored));
  }

  async function completeIn(
    span: Span | undefined,
    job: Job,
    ref: string,
    prepared: PreparedJob,
    stored: StoredOutcome,
  ): Promise<BatchJobResult> {
    if (stored.outcome !== "succeeded") {
      // Forgotten before the try fails: its retry goes through a lane again, not to this outcome.
      await dropOutcome(redis, ref);
      const message = `${stored.message} (batch ${stored.batchId})`;
      // A request the provider refuses fails at once, as in the direct lane; any other failure
      // of a request in a batch (its call is over: nothing to pause) is retried by the job's policy.
      if (stored.kind === "invalid") throw new UnrecoverableError(message);
      throw new LlmError("transient", message);
    }
    const { result, costUsd } = stored;
    span?.setAttributes(
      llmResponseAttributes({
        model: result.model,
        usage: result.usage,
        costUsd: costUsd ?? undefined,
      }),
    );
    let parsed: unknown;
    try {
      parsed = prepared.format
        ? await parseStructured(result.text, result.parsed, prepared.format)
        : undefined;
    } catch (error) {
      await dropOutcome(redis, ref);
      throw error;
    }
    const figures = callStats(options.stats, prepared.providerName, result.model, job.queueName);
    countCall(figures, result.usage, costUsd ?? undefined, "batch");
    if (costUsd === null) spending.warnUnpriced(prepared.providerName, result.model);
    const answer: BatchJobResult = {
      ...result,
      ...(parsed !== undefined ? { parsed } : {}),
      duration_ms: stored.collectedMs === undefined ? 0 : Date.now() - stored.collectedMs,
      cost_usd: costUsd,
      lane: "batch",
      batch_id: stored.batchId,
    };
    await options.results.route(job, answer);
    return answer;
  }
}

/** The batch lane of a worker process. */
export type BatchLane = ReturnType<typeof createBatchLane>;
