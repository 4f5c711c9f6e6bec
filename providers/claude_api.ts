/** The Claude API provider: the official Anthropic SDK, Messages API. Loaded only when used. */

import type Anthropic from "@anthropic-ai/sdk";
import { classifySdkError, LlmError } from "./errors.ts";
import {
  type LlmRequest,
  type ProbeResult,
  type ProviderResult,
  type Usage,
  usageOf,
} from "./provider.ts";
import { sdkClientCache, type SdkClientOptions } from "./sdk_client.ts";

/** `baseUrl` is `ANTHROPIC_BASE_URL`; the SDK's default when unset. */
export type ClaudeApiOptions = SdkClientOptions;

/** Used when neither the job nor `LLM_MODEL_NAME` names a model. */
export const DEFAULT_CLAUDE_MODEL = "claude-sonnet-5-5";
/** Output token limit when neither the job nor `LLM_MAX_TOKENS` sets one (the API requires one). */
export const DEFAULT_MAX_TOKENS = 4096;

/** The SDK client for `options`, shared by the direct lane, the batch lane and the probe. */
export const anthropicClient: (options: ClaudeApiOptions) => Promise<Anthropic> = sdkClientCache(
  async (options: ClaudeApiOptions) => {
    const { default: Anthropic } = await import("@anthropic-ai/sdk");
    return new Anthropic({
      apiKey: options.apiKey,
      baseURL: options.baseUrl,
      // ppr-worker retries through the queue, with backoff and a record of each try.
      maxRetries: 0,
      timeout: options.timeoutMs,
      // The SDK's own span of each call stays, without the messages whatever its environment
      // variables say: prompts and answers are the users' data (docs/tracing.md).
      openTelemetry: { traces: { contentMode: "metadata_only" } },
    });
  },
);

/**
 * The request's `system`: the text as it is, or, with `promptCache`, one text block marked
 * `cache_control: ephemeral`, which makes everything up to it (the tools, then the system
 * prompt: the API's prefix order) a cache entry later requests read instead of paying for.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { systemParameter } from "./claude_api.ts";
 *
 * assert.equal(systemParameter("Be terse.", false), "Be terse.");
 * assert.deepEqual(systemParameter("Be terse.", true), [
 *   { type: "text", text: "Be terse.", cache_control: { type: "ephemeral" } },
 * ]);
 * ```
 */
export function systemParameter(
  system: string,
  promptCache: boolean,
): string | { type: "text"; text: string; cache_control: { type: "ephemeral" } }[] {
  return promptCache
    ? [{ type: "text", text: system, cache_control: { type: "ephemeral" } }]
    : system;
}

/** The Messages API's request parameters, as the SDK types them. */
export type MessagesParams = Anthropic.MessageCreateParamsNonStreaming;

/**
 * The Messages API's parameters for `request`, the same in the direct lane (`callClaudeApi`)
 * and in a batch (`providers/batch/message_batches.ts`): the model (else
 * `DEFAULT_CLAUDE_MODEL`), `max_tokens` (else `DEFAULT_MAX_TOKENS`), the temperature when set,
 * the system messages joined as `system` (see {@link systemParameter}), the other turns as
 * `messages`, and `output_config` for a JSON Schema.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { messagesParams } from "./claude_api.ts";
 *
 * assert.deepEqual(
 *   messagesParams({
 *     messages: [{ role: "system", content: "Be terse." }, { role: "user", content: "Hi" }],
 *     model: "claude-haiku-5",
 *   }),
 *   {
 *     model: "claude-haiku-5",
 *     max_tokens: 4096,
 *     system: "Be terse.",
 *     messages: [{ role: "user", content: "Hi" }],
 *   },
 * );
 * ```
 */
export function messagesParams(request: Omit<LlmRequest, "signal">): MessagesParams {
  const system = request.messages.filter((message) => message.role === "system")
    .map((message) => message.content).join("\n\n");
  return {
    model: request.model ?? DEFAULT_CLAUDE_MODEL,
    max_tokens: request.maxTokens ?? DEFAULT_MAX_TOKENS,
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(system ? { system: systemParameter(system, request.promptCache ?? false) } : {}),
    messages: request.messages.filter((message) => message.role !== "system").map((message) => ({
      role: message.role as "user" | "assistant",
      content: message.content,
    })),
    ...(request.format
      ? {
        output_config: {
          format: { type: "json_schema" as const, schema: request.format.schema },
        },
      }
      : {}),
  };
}

/** A Messages API answer, as far as ppr-worker reads it: the SDK's `Message`, a batch's `message`. */
export interface MessagesResponse {
  content: readonly { type: string; text?: string }[];
  model?: string | null;
  stop_reason?: string | null;
  usage?: { [Count in keyof Usage]?: number | null } | null;
}

/**
 * A Messages API answer as a `ProviderResult`, in both lanes: the text of its text blocks, its
 * four token counts. Throws `LlmError("transient")` when the answer was cut at `max_tokens` or
 * is empty, as either is worth another try. `sent` is what was asked for, when the caller has it
 * (the direct lane): the model when the answer names none, `max_tokens` for the message.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { messagesResult } from "./claude_api.ts";
 *
 * const result = messagesResult({
 *   content: [{ type: "text", text: "{}" }],
 *   model: "claude-haiku-5",
 *   stop_reason: "end_turn",
 *   usage: { input_tokens: 12, output_tokens: 2, cache_read_input_tokens: null },
 * });
 * assert.equal(result.text, "{}");
 * assert.equal(result.usage.cache_read_input_tokens, 0);
 * assert.throws(
 *   () => messagesResult({ content: [{ type: "text", text: "{" }], stop_reason: "max_tokens" }),
 *   /output truncated/,
 * );
 * ```
 */
export function messagesResult(
  response: MessagesResponse,
  sent?: Pick<MessagesParams, "model" | "max_tokens">,
): ProviderResult {
  const text = response.content.map((block) => block.type === "text" ? block.text ?? "" : "")
    .join("");
  if (response.stop_reason === "max_tokens") {
    // A batch's answer comes back without its request: its output count is the limit it hit.
    const limit = sent?.max_tokens ?? response.usage?.output_tokens ?? undefined;
    const at = limit === undefined ? "" : ` (${limit})`;
    throw new LlmError("transient", `output truncated at max_tokens${at}`);
  }
  if (text.trim() === "") throw new LlmError("transient", "the API returned an empty answer");
  return {
    text,
    model: response.model ?? sent?.model ?? "unknown",
    provider: "claude",
    usage: usageOf(response.usage ?? {}),
    stop_reason: response.stop_reason ?? undefined,
  };
}

/** Calls the Messages API once. */
export async function callClaudeApi(
  options: ClaudeApiOptions,
  request: LlmRequest,
): Promise<ProviderResult> {
  const anthropic = await anthropicClient(options);
  const params = messagesParams(request);
  try {
    const response = await anthropic.messages.create(params, { signal: request.signal });
    return messagesResult(response, params);
  } catch (error) {
    if (request.signal.aborted) throw error;
    throw classifySdkError(error);
  }
}

/** The cheap auth probe of API mode: listing models checks the key and spends no tokens. */
export async function claudeApiAuthStatus(
  options: ClaudeApiOptions,
): Promise<ProbeResult> {
  try {
    const anthropic = await anthropicClient(options);
    await anthropic.models.list({ limit: 1 }, { signal: AbortSignal.timeout(15_000) });
    return { ok: true, detail: "API key accepted" };
  } catch (error) {
    const classified = classifySdkError(error);
    return { ok: classified.kind !== "auth", detail: classified.message };
  }
}
