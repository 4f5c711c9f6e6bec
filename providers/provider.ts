/** What every LLM provider takes and returns, and what a provider module declares about itself. */

import type { Config } from "../config/config.ts";

/** One turn of a conversation. */
export interface Message {
  role: "system" | "user" | "assistant";
  content: string;
}

/** Structured output: the JSON Schema the answer must fit. */
export interface OutputFormat {
  name?: string;
  schema: Record<string, unknown>;
  strict?: boolean;
}

/** One call of a provider, built from a job and the defaults of the configuration. */
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

/** The job's return value, as docs/jobs-and-providers.md describes the job contract. */
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

/** Calls the model once. Throws an `LlmError` that names its failure class. */
export type Provider = (request: LlmRequest) => Promise<ProviderResult>;

/** A provider made for one worker process: `call` it per job, `close` it when the process stops. */
export interface ProviderClient {
  call: Provider;
  /** Releases what the client holds (warm CLI processes, a working directory). */
  close?(): Promise<void>;
}

/** The answer of a provider's cheap auth probe (no tokens spent). */
export interface ProbeResult {
  ok: boolean;
  detail: string;
}

/** What the worker and the supervisor need to run a provider they know only by name. */
export interface ProviderContext {
  config: Config;
  /** The whole environment of LLM subprocesses (the Claude CLI): see `claudeCliEnv`. */
  subprocessEnv: Record<string, string>;
  /** Most calls this process makes at once (its share of `LLM_MAX_IN_FLIGHT`), when bounded. */
  llmCallsInFlight?: number;
}

/**
 * One provider, as the registry lists it: its name (`provider.name` of a job,
 * `LLM_PROVIDER`), how to call it, and its cheap auth probe. SDK-backed
 * providers load their SDK on first call, so a worker that never uses them stays lean.
 */
export interface ProviderDefinition {
  name: string;
  create(context: ProviderContext): ProviderClient;
  /** `undefined` when there is nothing to check (echo). */
  probe?(context: ProviderContext): Promise<ProbeResult>;
}
