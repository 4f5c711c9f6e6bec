/**
 * Runs one LLM job: validate the payload, pick the provider, answer from the result cache or
 * ask the fleet's budgets and rate limits, call the provider within the timeout, count what it
 * cost, check structured output.
 */

import { UnrecoverableError } from "bullmq/errors";
import type { Config } from "../../config/config.ts";
import { callDeadline } from "../../async/mod.ts";
import { LlmError } from "../../providers/errors.ts";
import type {
  LlmRequest,
  LlmResult,
  Message,
  OutputFormat,
  ProviderClient,
  ProviderContext,
} from "../../providers/provider.ts";
import { providerNamed } from "../../providers/registry.ts";
import { callStats, countCall, providerStats, type WorkerStats } from "../../protocol/stats.ts";
import { likelyInputTokens, mostInputTokens } from "../../economics/estimate.ts";
import {
  type CachedAnswer,
  parseCachedAnswer,
  resultCacheKey,
} from "../../economics/result_cache.ts";
import type { CallPlan, FleetLedger, Pricing, ResultCache } from "./spending.ts";
import {
  ceilingProblem,
  failureCostUsd,
  type HeldBack,
  heldBack,
  rateLimitWaitMs,
  unaffordable,
} from "./call_decisions.ts";
import { type LlmJob, messagesOf, parsePayload } from "./payload.ts";
import { closeSchemaChecks, outputFormatOf, parseStructured, schemaProblem } from "./structured.ts";
import {
  llmCallSpanName,
  llmRequestAttributes,
  llmResponseAttributes,
} from "../../telemetry/gen_ai.ts";
import { addSpanEvent, SpanKind, type SpanStart, withSpan } from "../../telemetry/tracing.ts";

/** The span of the check of an answer against the job's JSON schema. */
const SCHEMA_CHECK_SPAN = { name: "ppr.schema_check" };

/** The span of a call to the provider: `chat <model>`, a client span with `gen_ai.*` attributes. */
function llmCallStart(target: CallTarget, plan: CallPlan, queue: string): SpanStart {
  return {
    name: llmCallSpanName(plan.model),
    kind: SpanKind.CLIENT,
    attributes: llmRequestAttributes({
      provider: target.provider,
      model: plan.model,
      queue,
      fallbackFrom: target.fallbackFrom,
      maxOutputTokens: plan.maxOutputTokens,
    }),
  };
}

/** A validated job, ready to run. */
export interface PreparedJob {
  job: LlmJob;
  /** The provider that runs it: the job's `provider.name`, else `LLM_PROVIDER`. */
  providerName: string;
  format: OutputFormat | undefined;
}

/** The provider and model a try calls: the job's own, or its fallback's. */
export interface CallTarget {
  provider: string;
  /** `undefined`: the provider's default. */
  model: string | undefined;
  /** The provider this call stands in for, when it is a fallback. */
  fallbackFrom?: string;
}

/** What a budget reserves for the answer of a provider that declares no output limit. */
const DEFAULT_OUTPUT_LIMIT = 4096;

/** The provider and model a job asks for: its own `provider`, else `LLM_PROVIDER` and `LLM_MODEL_NAME`. */
export function primaryTarget(prepared: PreparedJob, config: Config): CallTarget {
  return {
    provider: prepared.providerName,
    model: prepared.job.provider?.model ?? config.llmModel,
  };
}

/** The job's result: what the provider answered, what it cost, and how it was had. */
export interface JobResult extends LlmResult {
  /** US dollars; `null` when the model has no price (counted and warned about, never as 0). */
  cost_usd: number | null;
  /** Answered from the result cache: no call was made. */
  cached?: true;
  /** For a cached answer: what it cost when it was first paid for. */
  saved_usd?: number | null;
  /** The provider this call stood in for (`fallback`). */
  fallback_from?: string;
}

/** What a try of an LLM job came to: a result, or what held its call back. */
export type RunOutcome =
  | {
    kind: "result";
    result: JobResult;
    /**
     * Writes what the call leaves in Redis (its settlement, the result cache's entry); made by
     * the caller, with its own writes for the result, so that together they take one round trip
     * (`inOneWrite`). Never rejects: a failed write is warned about, and the result stands.
     */
    record(): Promise<void>;
  }
  | HeldBack;

/** What a worker's runner spends through: the fleet's ledger, the prices, the result cache. */
export interface Spending {
  ledger: FleetLedger;
  pricing: Pricing;
  cache: ResultCache;
  /** Said once per provider and model that has no price. */
  warnUnpriced(provider: string, model: string): void;
  /**
   * Says that recording a call in Redis failed after the call was made (its settlement, the
   * result cache): the job's result stands, since failing it would pay for the call again.
   */
  warnNotRecorded(what: string, error: unknown): void;
}

/** Whether a job asks the result cache: it says so, or its queue is in `LLM_RESULT_CACHE`. */
export function usesResultCache(job: LlmJob, queue: string, config: Config): boolean {
  return job.cache ?? config.llmResultCache.includes(queue);
}

/** Validates job data. Invalid data throws `UnrecoverableError` naming the field: no retry. */
export function prepareJob(data: unknown, config: Config): PreparedJob {
  const payload = parsePayload(data);
  if (!payload.ok) throw new UnrecoverableError(payload.error);
  const format = outputFormatOf(payload.job.format);
  const problem = format && schemaProblem(format);
  if (problem) throw new UnrecoverableError(`invalid job data: ${problem}`);
  return { job: payload.job, providerName: payload.job.provider?.name ?? config.provider, format };
}

/**
 * The job's messages, with `LLM_SYSTEM_PROMPT` first when the job brings no system message of its own.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { withSystemPrompt } from "./runner.ts";
 *
 * assert.deepEqual(withSystemPrompt([{ role: "user", content: "hi" }], "Be brief."), [
 *   { role: "system", content: "Be brief." },
 *   { role: "user", content: "hi" },
 * ]);
 * ```
 */
export function withSystemPrompt(messages: Message[], systemPrompt: string | undefined): Message[] {
  if (systemPrompt === undefined || messages.some((message) => message.role === "system")) {
    return messages;
  }
  return [{ role: "system", content: systemPrompt }, ...messages];
}

/**
 * The request a job makes of `target`, in either lane: its messages (with `LLM_SYSTEM_PROMPT`),
 * model, sampling, output format and limits.
 */
export function requestOf(
  prepared: PreparedJob,
  target: CallTarget,
  config: Config,
): Omit<LlmRequest, "signal"> {
  const { job, format } = prepared;
  return {
    messages: withSystemPrompt(messagesOf(job), config.llmSystemPrompt),
    model: target.model,
    temperature: job.provider?.temperature ?? config.llmTemperature,
    maxTokens: job.provider?.max_tokens ?? config.llmMaxTokens,
    latencyMs: job.provider?.latency_ms,
    format,
    promptCache: config.llmPromptCache,
    maxCostUsd: job.max_cost_usd,
  };
}

/** The provider client for a name, made once per worker process. */
function providerFor(name: string, context: ProviderContext, made: Map<string, ProviderClient>) {
  let provider = made.get(name);
  if (!provider) {
    const definition = providerNamed(name);
    if (!definition) {
      throw new UnrecoverableError(`invalid job data: provider.name: ${name} is not available`);
    }
    provider = definition.create(context);
    made.set(name, provider);
  }
  return provider;
}

/** Runs prepared LLM jobs with the providers of one worker process. */
export function createLlmRunner(
  context: ProviderContext,
  stats?: WorkerStats,
  spending?: Spending,
) {
  const { config } = context;
  const made = new Map<string, ProviderClient>();
  let calls = 0;
  return {
    /**
     * Answers the job from the result cache, or asks the fleet's budgets and rate limits and
     * calls the provider. `signal` aborts the call (drain deadline); `LLM_TIMEOUT` aborts it
     * too and kills a CLI subprocess with everything it started.
     */
    async run(
      prepared: PreparedJob,
      target: CallTarget,
      queue: string,
      signal: AbortSignal,
    ): Promise<RunOutcome> {
      const { job, format } = prepared;
      const started = performance.now();
      const provider = providerFor(target.provider, context, made);
      // Cleared when the run ends, whichever way: a finished call leaves no timer behind.
      using deadline = callDeadline(signal, config.llmTimeoutMs);
      const request: LlmRequest = {
        ...requestOf(prepared, target, config),
        signal: deadline.signal,
      };
      const definition = definitionOf(target.provider);
      const modelName = target.model ?? definition.defaultModel?.(config);
      const figures = (model: string) =>
        stats ? callStats(stats, target.provider, model, queue) : undefined;
      const elapsed = () => Math.round(performance.now() - started);
      const budgeted = spending?.ledger.hasBudget(target.provider, queue) ?? false;
      const maxOutputTokens = definition.outputTokenLimit?.(config, request.maxTokens) ??
        request.maxTokens ?? DEFAULT_OUTPUT_LIMIT;
      if (budgeted && request.maxTokens === undefined && maxOutputTokens > 0) {
        // What the budget reserves is what the call may produce: a provider that would
        // otherwise send no max_tokens (the model's own limit) gets that one.
        request.maxTokens = maxOutputTokens;
      }

      const cacheKey = spending && usesResultCache(job, queue, config)
        ? await resultCacheKey({
          provider: target.provider,
          model: modelName ?? "default",
          request,
          contentHash: job.content_hash,
        })
        : undefined;
      /** A hit's outcome, counted; a miss (`cached` undefined) is counted and gives `undefined`. */
      const cacheOutcome = (
        cached: { answer: CachedAnswer; parsed: unknown } | undefined,
      ): RunOutcome | undefined => {
        const counted = figures(cached?.answer.result.model ?? modelName ?? "default");
        if (!cached) {
          if (counted) counted.cacheMisses++;
          return undefined;
        }
        addSpanEvent("ppr.result_cache_hit", { "ppr.saved_usd": cached.answer.cost_usd ?? 0 });
        if (counted) {
          counted.cacheHits++;
          counted.savedUsd += cached.answer.cost_usd ?? 0;
        }
        return {
          kind: "result",
          record: () => Promise.resolve(),
          result: {
            ...cached.answer.result,
            ...(cached.parsed !== undefined ? { parsed: cached.parsed } : {}),
            duration_ms: elapsed(),
            cost_usd: 0,
            cached: true,
            saved_usd: cached.answer.cost_usd,
            ...(target.fallbackFrom ? { fallback_from: target.fallbackFrom } : {}),
          },
        };
      };

      const extraTokens = definition.extraInputTokens?.(config) ?? 0;
      const worstCaseUsd = spending?.pricing.worstCaseUsd(
        target.provider,
        modelName,
        mostInputTokens(request, extraTokens),
        maxOutputTokens,
      );
      // The Claude CLI keeps a job's ceiling itself (--max-budget-usd), after its answer.
      const ceiling = definition.keepsCostCeiling?.(config)
        ? undefined
        : ceilingProblem(job.max_cost_usd, worstCaseUsd, {
          provider: target.provider,
          model: modelName,
          maxOutputTokens,
        });
      const plan: CallPlan = {
        callId: `${queue}:${crypto.randomUUID()}:${++calls}`,
        provider: target.provider,
        model: modelName ?? "default",
        queue,
        rateKey: rateKeyOf(job),
        inputTokens: likelyInputTokens(request),
        maxOutputTokens,
        worstCaseUsd,
      };
      const limited = spending?.ledger.hasLimits(target.provider, queue, plan.rateKey) ?? false;
      const unpriced = limited && worstCaseUsd === undefined && budgeted;
      // With a budget or a rate limit too, the admission looks the answer up: one round trip.
      const lookUpInAdmission = cacheKey !== undefined && limited && !ceiling && !unpriced;
      if (cacheKey && !lookUpInAdmission) {
        const hit = cacheOutcome(await fromResultCache(spending!, cacheKey, format));
        if (hit) return hit;
      }
      if (ceiling) throw new UnrecoverableError(ceiling);
      if (limited) {
        if (unpriced) {
          // A budget cannot count a call it cannot price: it would be counted as free.
          throw new UnrecoverableError(
            `${target.provider} model ${plan.model} has no price (LLM_PRICES), and a budget (LLM_BUDGET_USD) applies: add its price to LLM_PRICES`,
          );
        }
        let admission = lookUpInAdmission
          ? await spending!.ledger.admitUnlessCached(plan, cacheKey!)
          : await spending!.ledger.admit(plan);
        if ("cached" in admission) {
          const stored = parseCachedAnswer(admission.cached);
          const hit = cacheOutcome(
            stored && await checkedAnswer(spending!, cacheKey!, stored, format),
          );
          if (hit) return hit;
          admission = await spending!.ledger.admit(plan);
        } else if (lookUpInAdmission) cacheOutcome(undefined);
        if (!admission.admitted) {
          const never = unaffordable(admission, worstCaseUsd, maxOutputTokens);
          if (never) throw new UnrecoverableError(never);
          const held = heldBack(admission, worstCaseUsd);
          const counted = figures(plan.model);
          if (counted && admission.reason === "rate_limit") counted.rateLimitWaits++;
          if (counted && held.kind === "budget") counted.budgetRefusals++;
          return held;
        }
      }

      const providerFigures = stats ? providerStats(stats, target.provider) : undefined;
      if (providerFigures) providerFigures.requests++;
      let answered;
      try {
        // The call's span holds its cost: priced here, inside it, from the answer.
        answered = await withSpan(llmCallStart(target, plan, queue), async (span) => {
          const result = await provider.call(request);
          const model = result.model || plan.model;
          const costUsd = result.cost_usd ??
            spending?.pricing.costOf(target.provider, model, result.usage);
          span?.setAttributes(llmResponseAttributes({ model, usage: result.usage, costUsd }));
          return { result, model, costUsd };
        });
      } catch (error) {
        const failure = error instanceof LlmError ? error : undefined;
        if (providerFigures && !signal.aborted) {
          providerFigures.errors[failure?.kind ?? "transient"]++;
        }
        if (spending) {
          // A call that may have been billed, at a cost nobody reported, counts its worst case.
          await spending.ledger.settle(plan, { costUsd: failureCostUsd(error), failed: true })
            .catch((problem) => spending.warnNotRecorded("the failed call's settlement", problem));
        }
        const waitMs = failure && rateLimitWaitMs(failure);
        if (waitMs !== undefined && spending?.ledger.hasRateLimit(target.provider, plan.model)) {
          // A rate limit the fleet's buckets know: they wait for the reset, every worker with them.
          await spending.ledger.blockUntil(target.provider, plan.model, waitMs);
          return { kind: "wait", waitMs, reason: failure!.message, fromProvider: true };
        }
        if (deadline.timedOut && !signal.aborted) {
          throw new LlmError(
            "transient",
            `timed out after ${config.llmTimeoutMs / 1000} s (LLM_TIMEOUT)`,
          );
        }
        throw error;
      }
      const { result, model, costUsd } = answered;
      if (costUsd === undefined && spending) spending.warnUnpriced(target.provider, model);
      // Its reservation, if it stays, lapses and counts at the worst case: never under-counted.
      const settle = async () =>
        void await spending?.ledger.settle(plan, {
          costUsd,
          usage: result.usage,
          ...(model !== plan.model ? { answeredModel: model } : {}),
        }).catch((error) => spending.warnNotRecorded("the call's settlement", error));
      if (providerFigures) {
        providerFigures.inputTokens += result.usage.input_tokens;
        providerFigures.outputTokens += result.usage.output_tokens;
      }
      const counted = figures(model);
      if (counted) {
        countCall(counted, result.usage, costUsd);
        if (target.fallbackFrom) counted.fallbacks++;
      }
      let parsed;
      try {
        parsed = format
          ? await withSpan(
            SCHEMA_CHECK_SPAN,
            () => parseStructured(result.text, result.parsed, format),
          )
          : undefined;
      } catch (error) {
        await settle(); // an answer that fails its schema was paid for all the same
        throw error;
      }
      const { cost_usd: _reported, ...answer } = result;
      const store = async () =>
        void await spending?.cache.store(cacheKey!, {
          result: { ...answer, ...(parsed !== undefined ? { parsed } : {}) },
          cost_usd: costUsd ?? null,
          stored_at: Date.now(),
        }).catch((error) => spending!.warnNotRecorded("the result cache's write", error));
      return {
        kind: "result",
        record: async () => void await Promise.all([settle(), cacheKey ? store() : undefined]),
        result: {
          ...answer,
          ...(parsed !== undefined ? { parsed } : {}),
          duration_ms: elapsed(),
          cost_usd: costUsd ?? null,
          ...(target.fallbackFrom ? { fallback_from: target.fallbackFrom } : {}),
        },
      };
    },
    /** Closes every provider client this process made. */
    async close(): Promise<void> {
      closeSchemaChecks();
      await Promise.allSettled([...made.values()].map((client) => client.close?.()));
    },
  };
}

/**
 * The result cache's answer for `key`, checked against the job's schema: an answer that no
 * longer fits it (the schema changed, the entry was altered) is dropped and counts as a miss.
 * A Redis error is a miss too: the call is made.
 */
async function fromResultCache(
  spending: Spending,
  key: string,
  format: OutputFormat | undefined,
): Promise<{ answer: CachedAnswer; parsed: unknown } | undefined> {
  const answer = await spending.cache.read(key).catch((error) => {
    spending.warnNotRecorded("the result cache's read (taken as a miss)", error);
    return undefined;
  });
  return answer && await checkedAnswer(spending, key, answer, format);
}

/**
 * A cached answer checked against the job's schema: one that no longer fits it (the schema
 * changed, the entry was altered) is dropped, and `undefined` counts as a miss.
 */
async function checkedAnswer(
  spending: Spending,
  key: string,
  answer: CachedAnswer,
  format: OutputFormat | undefined,
): Promise<{ answer: CachedAnswer; parsed: unknown } | undefined> {
  try {
    const parsed = format
      ? await parseStructured(answer.result.text, answer.result.parsed, format)
      : undefined;
    return { answer, parsed };
  } catch (error) {
    if (!(error instanceof LlmError)) throw error;
    await spending.cache.drop(key).catch(() => {});
    return undefined;
  }
}

/** The job's `metadata.rate_key`, if it is a text. */
function rateKeyOf(job: LlmJob): string | undefined {
  const key = job.metadata?.rate_key;
  return typeof key === "string" && key !== "" ? key : undefined;
}

/** The definition of a provider the payload check has let through. */
export function definitionOf(name: string) {
  const definition = providerNamed(name);
  if (!definition) {
    throw new UnrecoverableError(`invalid job data: provider.name: ${name} is not available`);
  }
  return definition;
}
