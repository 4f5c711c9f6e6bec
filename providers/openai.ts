/** The OpenAI-compatible provider: the official SDK, Chat Completions, any `OPENAI_BASE_URL`. Loaded only when used. */

import type OpenAI from "openai";
import { httpUrl, pattern } from "../config/rules.ts";
// It imports this module's builders back: safe, as neither reads the other's bindings on loading.
import {
  OPENAI_BATCH_LIMITS,
  openAiBatchClient,
  openAiBatchLineBytes,
} from "./batch/openai_batch.ts";
import { unavailableBatchClient } from "./batch/batch.ts";
import { classifySdkError, LlmError } from "./errors.ts";
import {
  defineProvider,
  type LlmRequest,
  type ProbeResult,
  type ProviderResult,
  type Usage,
  usageOf,
} from "./provider.ts";
import { sdkClientCache, type SdkClientOptions } from "./sdk_client.ts";

/** `baseUrl`: OpenRouter, vLLM, Ollama, llama.cpp: anything that speaks Chat Completions. */
export type OpenAiOptions = SdkClientOptions;

/** Used when neither the job nor `LLM_MODEL_NAME` names a model. */
export const DEFAULT_OPENAI_MODEL = "gpt-4o-mini";
/**
 * What a budget reserves for the answer of a call that sets no `max_tokens` (none is sent, so
 * the model's own limit applies): gpt-4o-mini's output limit.
 */
export const OPENAI_UNSET_MAX_TOKENS = 16_384;

/** The SDK client for `options`, shared by the direct lane, the batch lane and the probe. */
export const openAiClient: (options: OpenAiOptions) => Promise<OpenAI> = sdkClientCache(
  async (options: OpenAiOptions) => {
    const { default: OpenAI } = await import("openai");
    return new OpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseUrl,
      maxRetries: 0,
      timeout: options.timeoutMs,
    });
  },
);

/** Chat Completions' token counts, as far as ppr-worker reads them. */
export interface CompletionUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
}

/**
 * Chat Completions' counts in Anthropic's sense: `prompt_tokens` includes the cached ones
 * (`prompt_tokens_details.cached_tokens`), so they are taken out of `input_tokens` and counted
 * as cache reads. The API reports no cache writes.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { usageOfCompletion } from "./openai.ts";
 *
 * const usage = { prompt_tokens: 1200, completion_tokens: 30, prompt_tokens_details: { cached_tokens: 1024 } };
 * assert.deepEqual(usageOfCompletion(usage), {
 *   input_tokens: 176,
 *   output_tokens: 30,
 *   cache_creation_input_tokens: 0,
 *   cache_read_input_tokens: 1024,
 * });
 * ```
 */
export function usageOfCompletion(usage: CompletionUsage | null | undefined): Usage {
  const prompt = usage?.prompt_tokens ?? 0;
  // A server that reports more cached tokens than prompt tokens is wrong; never go negative.
  const cached = Math.min(prompt, usage?.prompt_tokens_details?.cached_tokens ?? 0);
  return usageOf({
    input_tokens: prompt - cached,
    output_tokens: usage?.completion_tokens,
    cache_read_input_tokens: cached,
  });
}

/** Chat Completions' request body, as the SDK types it. */
export type ChatCompletionParams = OpenAI.ChatCompletionCreateParamsNonStreaming;

/**
 * The Chat Completions body for `request`, the same in the direct lane (`callOpenAi`) and in a
 * batch (each line's `body`, `providers/batch/openai_batch.ts`): the model (else
 * `DEFAULT_OPENAI_MODEL`), every message as it is, the temperature and `max_tokens` when set,
 * `response_format` for a JSON Schema (named `output` and not strict unless the format says).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { chatCompletionParams } from "./openai.ts";
 *
 * assert.deepEqual(
 *   chatCompletionParams({ messages: [{ role: "user", content: "Hi" }], maxTokens: 100 }),
 *   { model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }], max_tokens: 100 },
 * );
 * ```
 */
export function chatCompletionParams(request: Omit<LlmRequest, "signal">): ChatCompletionParams {
  return {
    model: request.model ?? DEFAULT_OPENAI_MODEL,
    messages: request.messages.map((message) => ({
      role: message.role,
      content: message.content,
    })),
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
    ...(request.format
      ? {
        response_format: {
          type: "json_schema" as const,
          json_schema: {
            name: request.format.name ?? "output",
            schema: request.format.schema,
            strict: request.format.strict ?? false,
          },
        },
      }
      : {}),
  };
}

/** A Chat Completions answer, as far as ppr-worker reads it: the SDK's, a batch line's `body`. */
export interface ChatCompletionResponse {
  choices?: readonly {
    message?: { content?: string | null } | null;
    finish_reason?: string | null;
  }[];
  model?: string | null;
  usage?: CompletionUsage | null;
}

/**
 * A Chat Completions answer as a `ProviderResult`, in both lanes: the first choice's text, the
 * counts of {@link usageOfCompletion}. Throws `LlmError("transient")` when the answer was cut
 * (`finish_reason` `length`) or is empty. `model` is the one asked for, when the caller has it,
 * for an answer that names none.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { completionResult } from "./openai.ts";
 *
 * const result = completionResult({
 *   choices: [{ message: { content: "{}" }, finish_reason: "stop" }],
 *   model: "gpt-4o-mini",
 *   usage: { prompt_tokens: 12, completion_tokens: 2 },
 * });
 * assert.deepEqual([result.text, result.usage.input_tokens], ["{}", 12]);
 * assert.throws(() => completionResult({ choices: [{ finish_reason: "length" }] }), /truncated/);
 * ```
 */
export function completionResult(
  completion: ChatCompletionResponse,
  model?: string,
): ProviderResult {
  const choice = completion.choices?.[0];
  const text = choice?.message?.content ?? "";
  if (choice?.finish_reason === "length") {
    throw new LlmError("transient", "output truncated (finish_reason length)");
  }
  if (text.trim() === "") throw new LlmError("transient", "the API returned an empty answer");
  return {
    text,
    model: completion.model ?? model ?? "unknown",
    provider: "openai",
    usage: usageOfCompletion(completion.usage),
    stop_reason: choice?.finish_reason ?? undefined,
  };
}

/** Calls Chat Completions once. */
export async function callOpenAi(
  options: OpenAiOptions,
  request: LlmRequest,
): Promise<ProviderResult> {
  const openai = await openAiClient(options);
  const params = chatCompletionParams(request);
  try {
    const completion = await openai.chat.completions.create(params, { signal: request.signal });
    return completionResult(completion, params.model);
  } catch (error) {
    if (request.signal.aborted) throw error;
    throw classifySdkError(error);
  }
}

/** The cheap auth probe: listing models checks the key and spends no tokens. */
export async function openAiAuthStatus(
  options: OpenAiOptions,
): Promise<ProbeResult> {
  try {
    const openai = await openAiClient(options);
    await openai.models.list({ signal: AbortSignal.timeout(15_000) });
    return { ok: true, detail: "API key accepted" };
  } catch (error) {
    const classified = classifySdkError(error);
    return { ok: classified.kind !== "auth", detail: classified.message };
  }
}

/** The settings of the `openai` provider. */
export const OPENAI_SETTINGS = {
  openaiApiKey: {
    env: "OPENAI_API_KEY",
    fixedAtStart: true,
    help: "key of the OpenAI-compatible API",
    secret: true,
    ...pattern("a non-empty key", /^\S+$/),
  },
  openaiBaseUrl: {
    env: "OPENAI_BASE_URL",
    fixedAtStart: true,
    help: "base URL of any OpenAI-compatible server (OpenRouter, vLLM, Ollama, llama.cpp)",
    ...httpUrl(),
  },
};

/** The SDK client's options, or `undefined` without a key. */
function optionsOf(
  config: { openaiApiKey?: string; openaiBaseUrl?: string; llmTimeoutMs: number },
  timeoutMs = config.llmTimeoutMs,
): OpenAiOptions | undefined {
  return config.openaiApiKey === undefined
    ? undefined
    : { apiKey: config.openaiApiKey, baseUrl: config.openaiBaseUrl, timeoutMs };
}

/** The error of every call without `OPENAI_API_KEY`. */
function missingKey(): LlmError {
  return new LlmError(
    "invalid",
    "provider openai needs OPENAI_API_KEY (a local server takes any value)",
  );
}

/** `openai`: any OpenAI-compatible Chat Completions server (`OPENAI_API_KEY`, `OPENAI_BASE_URL`). */
export const openAiProvider = defineProvider({
  name: "openai",
  settings: OPENAI_SETTINGS,
  pauses: ["auth_failed", "quota_exceeded"],
  create({ config }) {
    const options = optionsOf(config);
    if (!options) return { call: () => Promise.reject(missingKey()) };
    return { call: (request) => callOpenAi(options, request) };
  },
  // Any OpenAI-compatible server may have the Batch API; one without answers `create` with 404.
  batch({ config }) {
    const options = optionsOf(config);
    if (options) return openAiBatchClient(options);
    const sizing = { limits: OPENAI_BATCH_LIMITS, requestBytes: openAiBatchLineBytes };
    return unavailableBatchClient(missingKey(), sizing);
  },
  probe({ config }) {
    const options = optionsOf(config, 15_000);
    return options
      ? openAiAuthStatus(options)
      : Promise.resolve({ ok: false, detail: "OPENAI_API_KEY is not set" });
  },
  defaultModel: () => DEFAULT_OPENAI_MODEL,
  outputTokenLimit: (_config, requested) => requested ?? OPENAI_UNSET_MAX_TOKENS,
  describe: ({ config }) => ({
    mode: `OpenAI-compatible API (${config.openaiBaseUrl ?? "the SDK's default URL"})`,
    configDir: null,
    spendsTokens: true,
  }),
});
