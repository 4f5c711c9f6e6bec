/** Runs one LLM job: validate the payload, pick the provider, call it within the timeout, check structured output. */

import { UnrecoverableError } from "bullmq/errors";
import type { Config } from "../../config/config.ts";
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
import { providerStats, type WorkerStats } from "../../protocol/stats.ts";
import { type LlmJob, messagesOf, parsePayload } from "./payload.ts";
import { closeSchemaChecks, outputFormatOf, parseStructured, schemaProblem } from "./structured.ts";

/** A validated job, ready to run. */
export interface PreparedJob {
  job: LlmJob;
  /** The provider that runs it: the job's `provider.name`, else `LLM_PROVIDER`. */
  providerName: string;
  format: OutputFormat | undefined;
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
export function createLlmRunner(context: ProviderContext, stats?: WorkerStats) {
  const { config } = context;
  const made = new Map<string, ProviderClient>();
  return {
    /**
     * Calls the provider. `signal` aborts the call (drain deadline); `LLM_TIMEOUT`
     * aborts it too and kills a CLI subprocess with everything it started.
     */
    async run(prepared: PreparedJob, signal: AbortSignal): Promise<LlmResult> {
      const { job, format } = prepared;
      const provider = providerFor(prepared.providerName, context, made);
      const timeout = AbortSignal.timeout(config.llmTimeoutMs);
      const request: LlmRequest = {
        messages: withSystemPrompt(messagesOf(job), config.llmSystemPrompt),
        model: job.provider?.model ?? config.llmModel,
        temperature: job.provider?.temperature ?? config.llmTemperature,
        maxTokens: job.provider?.max_tokens ?? config.llmMaxTokens,
        latencyMs: job.provider?.latency_ms,
        format,
        signal: AbortSignal.any([signal, timeout]),
      };
      const started = performance.now();
      const figures = stats ? providerStats(stats, prepared.providerName) : undefined;
      if (figures) figures.requests++;
      let result;
      try {
        result = await provider.call(request);
        if (figures) {
          figures.inputTokens += result.usage.input_tokens;
          figures.outputTokens += result.usage.output_tokens;
        }
      } catch (error) {
        if (figures && !signal.aborted) {
          figures.errors[error instanceof LlmError ? error.kind : "transient"]++;
        }
        if (timeout.aborted && !signal.aborted) {
          throw new LlmError(
            "transient",
            `timed out after ${config.llmTimeoutMs / 1000} s (LLM_TIMEOUT)`,
          );
        }
        throw error;
      }
      const parsed = format ? await parseStructured(result.text, result.parsed, format) : undefined;
      return {
        ...result,
        ...(parsed !== undefined ? { parsed } : {}),
        duration_ms: Math.round(performance.now() - started),
      };
    },
    /** Closes every provider client this process made. */
    async close(): Promise<void> {
      closeSchemaChecks();
      await Promise.allSettled([...made.values()].map((client) => client.close?.()));
    },
  };
}
