/**
 * The attributes of an LLM call's span, in OpenTelemetry's `gen_ai.*` semantic conventions, with
 * ppr-worker's cost beside them. Never the prompt or the answer: they are the users' data.
 */

import type { Attributes } from "@opentelemetry/api";

/** What is known of a call before it is made. */
export interface LlmCallRequest {
  /** ppr-worker's provider name: `claude`, `claude-api`, `openai`, `echo`. */
  provider: string;
  /** The model asked for; `default` when the provider picks it. */
  model: string;
  /** The job's queue. */
  queue: string;
  /** The provider this call stands in for (`LLM_FALLBACK`). */
  fallbackFrom?: string;
  /** How the call is made. @default {"direct"} */
  lane?: "direct" | "batch";
  maxOutputTokens?: number;
}

/** What the answer says: the model that answered, its tokens, its cost. */
export interface LlmCallResponse {
  model: string;
  usage: {
    input_tokens: number;
    output_tokens: number;
    cache_creation_input_tokens?: number;
    cache_read_input_tokens?: number;
  };
  /** US dollars; `undefined` when the model has no price: never written as 0. */
  costUsd: number | undefined;
}

/**
 * The `gen_ai.provider.name` (and the older `gen_ai.system`) of a ppr-worker provider: the
 * conventions' well-known values where there is one, else ppr-worker's own name.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { genAiProviderName } from "./gen_ai.ts";
 *
 * assert.equal(genAiProviderName("claude-api"), "anthropic");
 * assert.equal(genAiProviderName("echo"), "echo");
 * ```
 */
export function genAiProviderName(provider: string): string {
  if (provider === "claude" || provider === "claude-api") return "anthropic";
  if (provider === "openai") return "openai";
  return provider;
}

/**
 * The span name of a call (`chat <model>`, as the conventions name an inference span).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { llmCallSpanName } from "./gen_ai.ts";
 *
 * assert.equal(llmCallSpanName("claude-haiku-4-5"), "chat claude-haiku-4-5");
 * ```
 */
export function llmCallSpanName(model: string): string {
  return `chat ${model}`;
}

/**
 * The attributes a call's span starts with.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { llmRequestAttributes } from "./gen_ai.ts";
 *
 * assert.deepEqual(llmRequestAttributes({ provider: "openai", model: "gpt-5-mini", queue: "llm" }), {
 *   "gen_ai.operation.name": "chat",
 *   "gen_ai.provider.name": "openai",
 *   "gen_ai.system": "openai",
 *   "gen_ai.request.model": "gpt-5-mini",
 *   "ppr.provider": "openai",
 *   "ppr.queue": "llm",
 *   "ppr.lane": "direct",
 * });
 * ```
 */
export function llmRequestAttributes(request: LlmCallRequest): Attributes {
  const system = genAiProviderName(request.provider);
  return {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": system,
    "gen_ai.system": system,
    "gen_ai.request.model": request.model,
    ...(request.maxOutputTokens === undefined
      ? {}
      : { "gen_ai.request.max_tokens": request.maxOutputTokens }),
    "ppr.provider": request.provider,
    "ppr.queue": request.queue,
    "ppr.lane": request.lane ?? "direct",
    ...(request.fallbackFrom === undefined ? {} : { "ppr.fallback_from": request.fallbackFrom }),
  };
}

/**
 * The attributes an answered call's span gains: the answering model, the token counts (input
 * with the cached ones, as the conventions count it; cache writes and reads apart), and
 * `ppr.cost_usd`, or, when the model has no price, no cost at all and `ppr.cost_unpriced: true`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { llmResponseAttributes } from "./gen_ai.ts";
 *
 * const usage = { input_tokens: 10, output_tokens: 2 };
 * assert.equal(llmResponseAttributes({ model: "m", usage, costUsd: 0.5 })["ppr.cost_usd"], 0.5);
 * const unpriced = llmResponseAttributes({ model: "m", usage, costUsd: undefined });
 * assert.equal("ppr.cost_usd" in unpriced, false);
 * assert.equal(unpriced["ppr.cost_unpriced"], true);
 * ```
 */
export function llmResponseAttributes(response: LlmCallResponse): Attributes {
  const { usage } = response;
  const cacheWrite = usage.cache_creation_input_tokens ?? 0;
  const cacheRead = usage.cache_read_input_tokens ?? 0;
  return {
    "gen_ai.response.model": response.model,
    // The conventions count every input token here, cached ones included (Anthropic's
    // `input_tokens` is the uncached part only); the cached parts have attributes of their own.
    "gen_ai.usage.input_tokens": usage.input_tokens + cacheWrite + cacheRead,
    "gen_ai.usage.output_tokens": usage.output_tokens,
    "gen_ai.usage.cache_creation.input_tokens": cacheWrite,
    "gen_ai.usage.cache_read.input_tokens": cacheRead,
    ...(response.costUsd === undefined
      ? { "ppr.cost_unpriced": true }
      : { "ppr.cost_usd": response.costUsd }),
  };
}
