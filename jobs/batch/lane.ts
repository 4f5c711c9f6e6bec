/**
 * The batch lane as a job meets it: which lane a try takes, and what a job's request in a batch
 * is and may cost. The worker checks a job with it when it collects the job; the desk builds the
 * batch's requests with it, so both see the same request.
 */

import { UnrecoverableError } from "bullmq/errors";
import type { Config } from "../../config/config.ts";
import { mostInputTokens } from "../../economics/estimate.ts";
import { BATCH_PRICE_SHARE } from "../../economics/prices.ts";
import type { BatchClient, BatchRequest } from "../../providers/batch/batch.ts";
import { LlmError } from "../../providers/errors.ts";
import type { ProviderContext } from "../../providers/provider.ts";
import type { Pricing } from "../llm/spending.ts";
import { definitionOf, type PreparedJob, primaryTarget, requestOf } from "../llm/runner.ts";

/** The two lanes: a call now, or a request in the provider's batch API at its batch price. */
export type Lane = "direct" | "batch";

/**
 * The lane a try of a job takes: the batch lane when the job says `lane: "batch"` or its queue
 * is in `LLM_BATCH_QUEUES` (a job's `lane: "direct"` overrides its queue), except for a retry of
 * a job whose `retry_lane` is `direct`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { laneOf } from "./lane.ts";
 *
 * const config = { llmBatchQueues: ["nightly"] };
 * assert.equal(laneOf({ prompt: "Hi" }, "nightly", config, 0), "batch");
 * assert.equal(laneOf({ prompt: "Hi", lane: "direct" }, "nightly", config, 0), "direct");
 * assert.equal(laneOf({ prompt: "Hi", lane: "batch", retry_lane: "direct" }, "llm", config, 1), "direct");
 * ```
 */
export function laneOf(
  job: PreparedJob["job"],
  queue: string,
  config: Pick<Config, "llmBatchQueues">,
  attemptsMade: number,
): Lane {
  const lane = job.lane ?? (config.llmBatchQueues.includes(queue) ? "batch" : "direct");
  if (lane === "batch" && attemptsMade > 0 && job.retry_lane === "direct") return "direct";
  return lane;
}

/** What a job is in the batch lane: its request, model and worst-case cost at the batch price. */
export interface BatchPlan {
  provider: string;
  /** The model named, or the provider's default. */
  model: string;
  request: BatchRequest["request"];
  /** Its `max_tokens`: what its worst case counts. */
  maxOutputTokens: number;
  /** The most it can cost at the batch price; `undefined`: the model has no price. */
  worstCaseUsd: number | undefined;
}

/** The longest custom id a batch gives a request (`ppr-<16 hex>-<index>`): what sizing assumes. */
const LONGEST_CUSTOM_ID = "ppr-0123456789abcdef-99999";

/** A job's plan in the batch lane of `context`'s configuration. */
export function batchPlanOf(
  prepared: PreparedJob,
  context: Pick<ProviderContext, "config">,
  pricing: Pricing | undefined,
): BatchPlan {
  const { config } = context;
  const target = primaryTarget(prepared, config);
  const definition = definitionOf(target.provider);
  const named = target.model ?? definition.defaultModel?.(config);
  const model = named ?? "default";
  const request = { ...requestOf(prepared, target, config), model: named };
  const maxOutputTokens = definition.outputTokenLimit?.(config, request.maxTokens) ??
    request.maxTokens ?? 4096;
  // A batch request always carries its max_tokens: Anthropic's batches require one.
  request.maxTokens = maxOutputTokens;
  const worst = pricing?.worstCaseUsd(
    target.provider,
    named,
    mostInputTokens(request, definition.extraInputTokens?.(config) ?? 0),
    maxOutputTokens,
  );
  return {
    provider: target.provider,
    model,
    request,
    maxOutputTokens,
    worstCaseUsd: worst === undefined ? undefined : worst * BATCH_PRICE_SHARE,
  };
}

/** The batch client of `provider` in `context`, made once per process; `undefined`: it has none. */
export function batchClientCache(context: ProviderContext) {
  const made = new Map<string, BatchClient | undefined>();
  return (provider: string): BatchClient | undefined => {
    if (!made.has(provider)) made.set(provider, definitionOf(provider).batch?.(context));
    return made.get(provider);
  };
}

/**
 * Why a job cannot go through the batch lane, as the reason it fails with at once: its provider
 * has no batch API here (the Claude CLI), its request is larger than a batch may be, or its
 * worst case is over its `max_cost_usd`, or it cannot be priced while a budget applies.
 */
export function batchRefusal(
  plan: BatchPlan,
  client: BatchClient | undefined,
  job: PreparedJob["job"],
  budgeted: boolean,
): string | undefined {
  if (!client) {
    const which = plan.provider === "claude" ? " (the Claude CLI has none)" : "";
    return `${plan.provider} has no batch API in this configuration${which}: ` +
      `the batch lane needs the Claude API (ANTHROPIC_API_KEY) or an OpenAI-compatible API; ` +
      `send the job without lane "batch", or its queue outside LLM_BATCH_QUEUES`;
  }
  const bytes = client.requestBytes({ customId: LONGEST_CUSTOM_ID, request: plan.request });
  if (bytes > client.limits.maxBytes) {
    return `the request takes ${bytes} bytes, more than a ${plan.provider} batch may hold ` +
      `(${client.limits.maxBytes} bytes): send it in the direct lane`;
  }
  if (
    job.max_cost_usd !== undefined && plan.worstCaseUsd !== undefined &&
    plan.worstCaseUsd > job.max_cost_usd
  ) {
    return `its worst case at the batch price, $${plan.worstCaseUsd.toFixed(4)} ` +
      `(${plan.maxOutputTokens} output tokens of ${plan.provider}/${plan.model}), is over its ` +
      `max_cost_usd of $${job.max_cost_usd}`;
  }
  if (budgeted && plan.worstCaseUsd === undefined) {
    return `${plan.provider} model ${plan.model} has no price (LLM_PRICES), and a budget ` +
      `(LLM_BUDGET_USD) applies: add its price to LLM_PRICES`;
  }
  return undefined;
}

/** {@link batchRefusal} as the error a job fails with at once, spending no more tries. */
export function refusedFromBatch(reason: string): UnrecoverableError {
  return new UnrecoverableError(`not sent in the batch lane: ${reason}`);
}

/**
 * What a failed create of a batch means for its jobs:
 * - `fail`: the requests themselves were refused (`invalid`, or a `RangeError` or `TypeError`
 *   for a limit they break, thrown before anything was sent): they fail by their retry policy;
 * - `collect`: the provider answered with a refusal of the call (`auth`, `quota`, `billing`,
 *   `overloaded`): it made no batch, and they are collected again;
 * - `look`: there is no answer to go by (a timeout, a broken connection, a 5xx: `transient`, or
 *   an error of no known class): the provider may have made the batch, so the jobs stay in it
 *   and it is looked for among the provider's batches, as a desk that died mid-submit leaves it.
 *   Collected again at once, they would be submitted twice whenever the provider had it.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { afterFailedCreate } from "./lane.ts";
 * import { LlmError } from "../../providers/errors.ts";
 *
 * assert.equal(afterFailedCreate(new LlmError("transient", "Request timed out.")), "look");
 * assert.equal(afterFailedCreate(new LlmError("overloaded", "overloaded_error")), "collect");
 * assert.equal(afterFailedCreate(new LlmError("invalid", "bad request")), "fail");
 * assert.equal(afterFailedCreate(new RangeError("too many requests in one batch")), "fail");
 * ```
 */
export function afterFailedCreate(error: unknown): "fail" | "collect" | "look" {
  if (error instanceof RangeError || error instanceof TypeError) return "fail";
  if (!(error instanceof LlmError)) return "look";
  if (error.kind === "invalid") return "fail";
  return error.kind === "transient" ? "look" : "collect";
}

/**
 * Why the pool cannot start with `LLM_BATCH_QUEUES`: a queue of it that this pool runs with
 * another processor than `llm`, or a provider (`LLM_PROVIDER`) that has no batch API here.
 */
export function batchQueuesProblem(context: ProviderContext): string | undefined {
  const { config } = context;
  if (config.llmBatchQueues.length === 0) return undefined;
  const notLlm = config.llmBatchQueues.filter((queue) =>
    config.queues.includes(queue) && config.queueProcessors[queue]?.kind !== "llm"
  );
  if (notLlm.length > 0) {
    return `LLM_BATCH_QUEUES = ${JSON.stringify(config.llmBatchQueues.join(","))}: ` +
      `${notLlm.join(", ")} ${
        notLlm.length === 1 ? "is not an LLM queue" : "are not LLM queues"
      } ` +
      `in QUEUE_PROCESSORS: only LLM jobs have a batch lane`;
  }
  if (!definitionOf(config.provider).batch?.(context)) {
    return `LLM_BATCH_QUEUES = ${JSON.stringify(config.llmBatchQueues.join(","))}: ` +
      `LLM_PROVIDER ${config.provider} has no batch API in this configuration (the Claude CLI ` +
      `has none): set ANTHROPIC_API_KEY for the Claude API, or use an OpenAI-compatible API`;
  }
  return undefined;
}
