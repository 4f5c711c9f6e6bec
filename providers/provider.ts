/** What every LLM provider takes and returns, and what a provider module declares about itself. */

import type { Config, ConfigOf, SettingsTable } from "../config/config.ts";
import type { BatchClient } from "./batch/batch.ts";
import type { PauseReason } from "./pause.ts";

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

/**
 * Tokens of one call, in Anthropic's sense: `input_tokens` excludes the cache's. What a call
 * costs is each count at its own price (`cache_creation_input_tokens` at the cache-write price,
 * `cache_read_input_tokens` at the cache-read price): see `economics/prices.ts`.
 */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/**
 * A `Usage` of the counts given, 0 for each one missing or `null` (as the APIs send a cache
 * count that does not apply).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { usageOf } from "./provider.ts";
 *
 * assert.deepEqual(usageOf({ input_tokens: 12, cache_read_input_tokens: null }), {
 *   input_tokens: 12,
 *   output_tokens: 0,
 *   cache_creation_input_tokens: 0,
 *   cache_read_input_tokens: 0,
 * });
 * ```
 */
export function usageOf(counts: { [Count in keyof Usage]?: number | null } = {}): Usage {
  return {
    input_tokens: counts.input_tokens ?? 0,
    output_tokens: counts.output_tokens ?? 0,
    cache_creation_input_tokens: counts.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: counts.cache_read_input_tokens ?? 0,
  };
}

/** One call of a provider, built from a job and the defaults of the configuration. */
export interface LlmRequest {
  messages: Message[];
  model?: string;
  temperature?: number;
  maxTokens?: number;
  format?: OutputFormat;
  /**
   * Claude API only: mark the system prompt as the stable prefix the provider may cache
   * (Anthropic's prompt caching), so jobs that share it read it at a tenth of the input price
   * after the first writes it. Other providers cache without being asked, or not at all.
   */
  promptCache?: boolean;
  /**
   * The most this call may cost, in US dollars (the job's `max_cost_usd`), a number > 0. The
   * Claude CLI enforces it itself (`--max-budget-usd`, in a process of its own: a warm
   * process's budget would count its whole conversation); for the APIs the caller checks the
   * call's worst case before it is made.
   */
  maxCostUsd?: number;
  /** Echo only: how long to wait before answering (the job's `latency_ms`, else `ECHO_LATENCY`). */
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
  usage: Usage;
  stop_reason?: string;
  duration_ms: number;
}

/** What a provider returns; `parsed` only when the provider already parsed structured output. */
export interface ProviderResult extends Omit<LlmResult, "duration_ms"> {
  /**
   * What the call cost in US dollars, only when the provider itself says so (the Claude CLI's
   * own accounting, this job's share only); else the caller prices `usage` from a price table.
   */
  cost_usd?: number;
}

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

/**
 * What the worker and the supervisor need to run a provider they know only by name. `Own` is
 * the configuration the provider's own settings make (see {@link ProviderDefinition.settings}).
 */
export interface ProviderContext<Own = unknown> {
  config: Config & Own;
  /** The whole environment of LLM subprocesses (the Claude CLI): see `claudeCliEnv`. */
  subprocessEnv: Record<string, string>;
  /** Most calls this process makes at once (its share of `LLM_MAX_IN_FLIGHT`), when bounded. */
  llmCallsInFlight?: number;
}

/** How a provider describes itself to `auth status` and `auth test`. */
export interface ProviderDescription {
  /** How it is reached, in words: `Claude CLI (/usr/bin/claude)`, `OpenAI-compatible API (...)`. */
  mode: string;
  /** The folder that holds its login, shared by every worker; `null` when it has none. */
  configDir: string | null;
  /** Whether a call spends tokens (`auth test` says what it costs before it calls). */
  spendsTokens: boolean;
  /** What a call sends besides the prompt, when that costs more than a few tokens. */
  extraContext?: string;
}

/** The process each call in flight runs (the Claude CLI): what bounds `LLM_MAX_IN_FLIGHT`'s default. */
export interface CallProcess {
  /** One call, in words, for the start-up log: `Claude CLI call`. */
  what: string;
  /** Peak memory of one call's process, rounded up from the bench. */
  memoryMb: number;
}

/**
 * One provider, declared in its own file (with {@link defineProvider}) and listed by one line
 * in `providers/registry.ts`: everything ppr-worker knows about it comes from here. In its own
 * file, `Settings` is the table of its settings and `Own` the configuration they make, so its
 * methods read them typed; the registry lists it with both forgotten.
 */
export interface ProviderDefinition<
  Own = unknown,
  Settings extends SettingsTable = SettingsTable,
> {
  /** `provider.name` of a job, `LLM_PROVIDER`, the `<provider>` of `ppr:llm:pause:<provider>`. */
  name: string;
  /**
   * Its settings (environment variables, rules, help, secrets), as data in the form of
   * `CORE_SETTINGS`: the registry joins them into the one table `--help`, `config`, the
   * configuration's error messages and secret handling read. Keys are the configuration's
   * fields, so they must not clash with any other setting's.
   */
  settings: Settings;
  /**
   * The shared pauses its failures can cause: `auth_failed` when it throws `LlmError("auth")`
   * (credentials missing or refused), `quota_exceeded` when it throws `LlmError("quota")` (a
   * usage or rate limit, with `retryAfterMs` when it knows the reset). `[]`: it needs neither.
   */
  pauses: readonly PauseReason[];
  /**
   * The client of one worker process. SDK-backed providers load their SDK on first call, so a
   * worker that never uses them stays lean. A call throws an `LlmError` naming its failure
   * class, and stops when `request.signal` aborts.
   */
  create(context: ProviderContext<Own>): ProviderClient;
  /**
   * The cheap auth probe: whether its credentials are there, without a paid call (a model list,
   * `claude auth status`), within 15 s. The supervisor runs it every `LLM_PROBE_INTERVAL`; a
   * failed probe pauses the provider (`auth_failed`). `undefined`: nothing to check; then
   * `pauses` holds no `auth_failed`.
   */
  probe?(context: ProviderContext<Own>): Promise<ProbeResult>;
  /** How it is reached, for `auth status` and `auth test`. */
  describe(context: ProviderContext<Own>): ProviderDescription;
  /**
   * Its batch API in this configuration (see `providers/batch/batch.ts`): the batch lane submits
   * its jobs through it, at the provider's batch price, with the same request a direct call
   * sends. Like `create`, it loads nothing until a method is called. `undefined` (or no method):
   * no batch API here (the Claude CLI, echo), and a job or queue marked for the batch lane is
   * refused with that reason.
   */
  batch?(context: ProviderContext<Own>): BatchClient | undefined;
  /**
   * The process each call in flight runs, when it runs one: with the default provider, the
   * default of `LLM_MAX_IN_FLIGHT` is what the container's memory fits of them. `undefined`
   * (or no method): a call costs its worker little memory, no default bound.
   */
  callProcess?(config: Config & Own): CallProcess | undefined;
  /**
   * The model a call asks for when neither the job nor `LLM_MODEL_NAME` names one, for pricing:
   * what a budget reserves at and what the spend counters name before the answer says.
   */
  defaultModel?(config: Config & Own): string | undefined;
  /**
   * The most output tokens a call can produce, given what the job asked for (`undefined`: no
   * `max_tokens`): what a budget reserves for the answer. A provider that cannot pass a limit on
   * (the Claude CLI) returns its own ceiling whatever was asked.
   */
  outputTokenLimit?(config: Config & Own, requested: number | undefined): number;
  /** Input tokens the provider adds to every call on its own (the Claude CLI's context). */
  extraInputTokens?(config: Config & Own): number;
  /**
   * Whether the provider keeps a job's `max_cost_usd` itself, after the fact (the Claude CLI's
   * `--max-budget-usd`): ppr-worker then does not refuse the call by its worst case.
   */
  keepsCostCeiling?(config: Config & Own): boolean;
  /**
   * The `/health` field that reports its probe: `claude_authenticated` (the field of the
   * system ppr-worker replaced). For a provider without it, the field is `null`.
   */
  reportsLoginAs?: "claude_authenticated";
}

/**
 * Declares a provider. Its methods read its own settings from the configuration, typed: the
 * registry joins `spec.settings` into the table every configuration is parsed with, so a
 * configuration of this build holds them.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { defineProvider, usageOf } from "./provider.ts";
 * import { duration } from "../config/rules.ts";
 *
 * const silent = defineProvider({
 *   name: "silent",
 *   settings: {
 *     silentLatencyMs: { env: "SILENT_LATENCY", default: "0ms", help: "...", ...duration(0, 1000) },
 *   },
 *   pauses: [],
 *   create: () => ({
 *     call: () => Promise.resolve({ text: "", model: "none", provider: "silent", usage: usageOf() }),
 *   }),
 *   describe: () => ({ mode: "silent", configDir: null, spendsTokens: false }),
 * });
 * assert.equal(silent.name, "silent");
 * ```
 */
export function defineProvider<const Settings extends SettingsTable>(
  spec: ProviderDefinition<ConfigOf<Settings>, Settings>,
): ProviderDefinition {
  return spec as unknown as ProviderDefinition;
}

/**
 * The configuration as a provider reads it: the core settings and the ones `settings` (its
 * table) makes. For code outside the provider that needs its settings (`auth login`).
 */
export function withSettingsOf<Settings extends SettingsTable>(
  config: Config,
  _settings: Settings,
): Config & ConfigOf<Settings> {
  return config as Config & ConfigOf<Settings>;
}
