/** Runs one LLM job: validate the payload, pick the provider, call it within the timeout. */

import { UnrecoverableError } from "bullmq/errors";
import type { Config } from "../config/config.ts";
import { echoProvider } from "./echo.ts";
import { messagesOf, parsePayload } from "./payload.ts";
import type { LlmResult, Provider } from "./provider.ts";

const PROVIDERS: Record<string, Provider> = { echo: echoProvider };

/**
 * Processes job data. Invalid data throws `UnrecoverableError` (no retry);
 * `signal` aborts the call (drain deadline); `LLM_TIMEOUT` aborts it too.
 */
export async function processLlmJob(
  data: unknown,
  config: Config,
  signal: AbortSignal,
): Promise<LlmResult> {
  const payload = parsePayload(data);
  if (!payload.ok) throw new UnrecoverableError(payload.error);
  const job = payload.job;
  const providerName = job.provider?.name ?? config.provider;
  const provider = PROVIDERS[providerName];
  if (!provider) {
    throw new UnrecoverableError(
      `invalid job data: provider.name: ${providerName} is not available`,
    );
  }
  const started = performance.now();
  const result = await provider({
    messages: messagesOf(job),
    model: job.provider?.model ?? config.llmModel,
    temperature: job.provider?.temperature ?? config.llmTemperature,
    maxTokens: job.provider?.max_tokens ?? config.llmMaxTokens,
    latencyMs: job.provider?.latency_ms ?? config.echoLatencyMs,
    signal: AbortSignal.any([signal, AbortSignal.timeout(config.llmTimeoutMs)]),
  });
  return { ...result, duration_ms: Math.round(performance.now() - started) };
}
