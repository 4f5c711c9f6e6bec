/** What every LLM provider takes and returns. */

import type { Message } from "./payload.ts";

/** Structured output: the JSON Schema the answer must fit. */
export interface OutputFormat {
  name?: string;
  schema: Record<string, unknown>;
  strict?: boolean;
}

export interface LlmRequest {
  messages: Message[];
  model?: string;
  temperature?: number;
  maxTokens?: number;
  format?: OutputFormat;
  /** Echo only: how long to wait before answering. */
  latencyMs?: number;
  /** Aborted on the job timeout and when a drain gives the job back. */
  signal: AbortSignal;
}

/** The job's return value, as the contract in DESIGN.md describes it. */
export interface LlmResult {
  text: string;
  parsed?: unknown;
  model: string;
  provider: string;
  usage: { input_tokens: number; output_tokens: number };
  stop_reason?: string;
  duration_ms: number;
}

/** What a provider returns; `parsed` only when the provider already parsed structured output. */
export type ProviderResult = Omit<LlmResult, "duration_ms">;

export type Provider = (request: LlmRequest) => Promise<ProviderResult>;
