/** The Claude API provider: the official Anthropic SDK, Messages API. Loaded only when used. */

import { classifySdkError, LlmError } from "./errors.ts";
import { type LlmRequest, type ProbeResult, type ProviderResult, usageOf } from "./provider.ts";
import { sdkClientCache, type SdkClientOptions } from "./sdk_client.ts";

/** `baseUrl` is `ANTHROPIC_BASE_URL`; the SDK's default when unset. */
export type ClaudeApiOptions = SdkClientOptions;

/** Used when neither the job nor `LLM_MODEL_NAME` names a model. */
export const DEFAULT_CLAUDE_MODEL = "claude-sonnet-5-5";
/** Output token limit when neither the job nor `LLM_MAX_TOKENS` sets one (the API requires one). */
export const DEFAULT_MAX_TOKENS = 4096;

const clientFor = sdkClientCache(async (options: ClaudeApiOptions) => {
  const { default: Anthropic } = await import("@anthropic-ai/sdk");
  return new Anthropic({
    apiKey: options.apiKey,
    baseURL: options.baseUrl,
    // ppr-worker retries through the queue, with backoff and a record of each try.
    maxRetries: 0,
    timeout: options.timeoutMs,
  });
});

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

/** Calls the Messages API once. */
export async function callClaudeApi(
  options: ClaudeApiOptions,
  request: LlmRequest,
): Promise<ProviderResult> {
  const anthropic = await clientFor(options);
  const system = request.messages.filter((message) => message.role === "system")
    .map((message) => message.content).join("\n\n");
  const model = request.model ?? DEFAULT_CLAUDE_MODEL;
  try {
    const response = await anthropic.messages.create({
      model,
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
    }, { signal: request.signal });
    const text = response.content.map((block) => block.type === "text" ? block.text : "").join("");
    if (response.stop_reason === "max_tokens") {
      throw new LlmError(
        "transient",
        `output truncated at max_tokens (${request.maxTokens ?? DEFAULT_MAX_TOKENS})`,
      );
    }
    if (text.trim() === "") throw new LlmError("transient", "the API returned an empty answer");
    return {
      text,
      model: response.model ?? model,
      provider: "claude",
      usage: usageOf(response.usage ?? {}),
      stop_reason: response.stop_reason ?? undefined,
    };
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
    const anthropic = await clientFor(options);
    await anthropic.models.list({ limit: 1 }, { signal: AbortSignal.timeout(15_000) });
    return { ok: true, detail: "API key accepted" };
  } catch (error) {
    const classified = classifySdkError(error);
    return { ok: classified.kind !== "auth", detail: classified.message };
  }
}
