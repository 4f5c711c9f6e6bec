/** The Claude API provider: the official Anthropic SDK, Messages API. Loaded only when used. */

import { classifyHttp, LlmError } from "./errors.ts";
import type { LlmRequest, ProviderResult } from "./provider.ts";

export interface ClaudeApiOptions {
  apiKey: string;
  /** `ANTHROPIC_BASE_URL`; the SDK's default when unset. */
  baseUrl?: string;
  timeoutMs: number;
}

/** Used when neither the job nor `LLM_MODEL_NAME` names a model. */
export const DEFAULT_CLAUDE_MODEL = "claude-sonnet-5-5";
export const DEFAULT_MAX_TOKENS = 4096;

type Anthropic = import("@anthropic-ai/sdk").default;
let client: { key: string; client: Anthropic } | undefined;

async function clientFor(options: ClaudeApiOptions): Promise<Anthropic> {
  const key = `${options.apiKey}\u0000${options.baseUrl}`;
  if (client?.key !== key) {
    const { default: Anthropic } = await import("@anthropic-ai/sdk");
    client = {
      key,
      client: new Anthropic({
        apiKey: options.apiKey,
        baseURL: options.baseUrl,
        // ppr-worker retries through the queue, with backoff and a record of each try.
        maxRetries: 0,
        timeout: options.timeoutMs,
      }),
    };
  }
  return client.client;
}

/** Maps an SDK error (or a network failure) to a failure class. */
export function classifySdkError(error: unknown): LlmError {
  if (error instanceof LlmError) return error;
  const status = (error as { status?: number }).status;
  const headers = (error as { headers?: Headers }).headers;
  const message = error instanceof Error ? error.message : String(error);
  return classifyHttp(typeof status === "number" ? status : undefined, message, headers);
}

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
      ...(system ? { system } : {}),
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
      usage: {
        input_tokens: response.usage?.input_tokens ?? 0,
        output_tokens: response.usage?.output_tokens ?? 0,
      },
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
): Promise<{ ok: boolean; detail: string }> {
  try {
    const anthropic = await clientFor(options);
    await anthropic.models.list({ limit: 1 }, { signal: AbortSignal.timeout(15_000) });
    return { ok: true, detail: "API key accepted" };
  } catch (error) {
    const classified = classifySdkError(error);
    return { ok: classified.kind !== "auth", detail: classified.message };
  }
}
