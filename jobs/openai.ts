/** The OpenAI-compatible provider: the official SDK, Chat Completions, any `OPENAI_BASE_URL`. Loaded only when used. */

import { classifySdkError } from "./claude_api.ts";
import { LlmError } from "./errors.ts";
import type { LlmRequest, ProviderResult } from "./provider.ts";

export interface OpenAiOptions {
  apiKey: string;
  /** OpenRouter, vLLM, Ollama, llama.cpp: anything that speaks Chat Completions. */
  baseUrl?: string;
  timeoutMs: number;
}

/** Used when neither the job nor `LLM_MODEL_NAME` names a model. */
export const DEFAULT_OPENAI_MODEL = "gpt-4o-mini";

type OpenAI = import("openai").default;
let client: { key: string; client: OpenAI } | undefined;

async function clientFor(options: OpenAiOptions): Promise<OpenAI> {
  const key = `${options.apiKey}\u0000${options.baseUrl}`;
  if (client?.key !== key) {
    const { default: OpenAI } = await import("openai");
    client = {
      key,
      client: new OpenAI({
        apiKey: options.apiKey,
        baseURL: options.baseUrl,
        maxRetries: 0,
        timeout: options.timeoutMs,
      }),
    };
  }
  return client.client;
}

export async function callOpenAi(
  options: OpenAiOptions,
  request: LlmRequest,
): Promise<ProviderResult> {
  const openai = await clientFor(options);
  const model = request.model ?? DEFAULT_OPENAI_MODEL;
  try {
    const completion = await openai.chat.completions.create({
      model,
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
    }, { signal: request.signal });
    const choice = completion.choices?.[0];
    const text = choice?.message?.content ?? "";
    if (choice?.finish_reason === "length") {
      throw new LlmError("transient", "output truncated (finish_reason length)");
    }
    if (text.trim() === "") throw new LlmError("transient", "the API returned an empty answer");
    return {
      text,
      model: completion.model ?? model,
      provider: "openai",
      usage: {
        input_tokens: completion.usage?.prompt_tokens ?? 0,
        output_tokens: completion.usage?.completion_tokens ?? 0,
      },
      stop_reason: choice?.finish_reason ?? undefined,
    };
  } catch (error) {
    if (request.signal.aborted) throw error;
    throw classifySdkError(error);
  }
}

/** The cheap auth probe: listing models checks the key and spends no tokens. */
export async function openAiAuthStatus(
  options: OpenAiOptions,
): Promise<{ ok: boolean; detail: string }> {
  try {
    const openai = await clientFor(options);
    await openai.models.list({ signal: AbortSignal.timeout(15_000) });
    return { ok: true, detail: "API key accepted" };
  } catch (error) {
    const classified = classifySdkError(error);
    return { ok: classified.kind !== "auth", detail: classified.message };
  }
}
