/** Turns what the Claude CLI printed for one job into a result or a classified failure. Pure. */

import { classifyHttp, classifyText, type FailureKind, LlmError, resetInMs } from "../errors.ts";
import { type ProviderResult, usageOf } from "../provider.ts";

/** The CLI's result object (`--output-format json`, or the `result` line of stream-json), as far as ppr-worker reads it. */
export interface CliResult {
  type?: string;
  subtype?: string;
  is_error?: boolean;
  result?: string;
  structured_output?: unknown;
  stop_reason?: string | null;
  /** The HTTP status of the API error; `null` for a broken stream or a transport failure. */
  api_error_status?: number | null;
  /** The error body's type: `authentication_error`, `rate_limit_error`, `overloaded_error`, ... */
  api_error_type?: string;
  /** `usage_limit_reached` when a subscription's usage limit was hit. */
  api_error?: string;
  errors?: string[];
  /** This job's tokens (in stream-json too: per result, not per process); cache tokens apart. */
  usage?: {
    input_tokens?: number;
    output_tokens?: number;
    cache_read_input_tokens?: number;
    cache_creation_input_tokens?: number;
  };
  /** Keyed by model; cumulative over a warm process's conversation. */
  modelUsage?: Record<string, ModelUsage>;
  /** Keyed by model; this job's only (stream-json). */
  model_usage_since_last_result?: Record<string, ModelUsage>;
  /** What the CLI priced the conversation at: a warm process's runs over its whole conversation. */
  total_cost_usd?: number;
}

/** One model's figures in `modelUsage`, as far as ppr-worker reads them. */
export interface ModelUsage {
  /** What the CLI priced that model's tokens at, in US dollars. */
  costUSD?: number;
}

/** What ppr-worker knows of the job besides the result: what it asked for, and when a limit resets. */
export interface ResultContext {
  requestedModel: string | undefined;
  /** A JSON schema was given (`--json-schema`): the answer must come as `structured_output`. */
  schemaAsked: boolean;
  /** The job's cost ceiling, given as `--max-budget-usd`. */
  maxCostUsd?: number;
  /** Epoch ms of a usage limit's reset, from a stream-json `rate_limit_event`. */
  resetsAt?: number;
  now?: number;
}

/**
 * The failure class of an API error the CLI reports: by its HTTP status and error type, as an
 * API client's would be (`classifyHttp`); a subscription's usage limit is quota whatever the
 * status; without a status (a broken stream, no login at all) the text decides ("Not logged in"
 * comes without one).
 */
function failureKind(parsed: CliResult, said: string): FailureKind {
  if (parsed.api_error === "usage_limit_reached") return "quota";
  const status = parsed.api_error_status;
  if (typeof status !== "number") return classifyText(said);
  const type = parsed.api_error_type;
  return classifyHttp(status, said, undefined, type ? [type] : []).kind;
}

/** A pause for a 429 that is the server's short-term rate limit ("not your usage limit"), not a usage limit. */
export const SERVER_RATE_LIMIT_PAUSE_MS = 60_000;

function serverLimitMs(parsed: CliResult): number | undefined {
  return parsed.api_error_status === 429 && parsed.api_error !== "usage_limit_reached"
    ? SERVER_RATE_LIMIT_PAUSE_MS
    : undefined;
}

/**
 * The job's result, or an `LlmError` naming its failure class:
 * - an API error: by `api_error_status` and `api_error_type` (401/403 auth; 402 or
 *   `billing_error` billing; 429 quota; 529 or `overloaded_error` overloaded; 400 invalid; 500
 *   transient), else by its text. A quota pause lasts until the reset time the CLI gave, or
 *   `SERVER_RATE_LIMIT_PAUSE_MS` for the server's own rate limit;
 * - `error_max_budget_usd` (the job's `--max-budget-usd` reached): invalid, as the same job
 *   would cost as much again;
 * - `error_max_structured_output_retries` (the model's JSON failed the schema 5 times), and a
 *   success without `structured_output` although a schema was asked for: transient, naming why;
 * - an empty or truncated answer: transient.
 */
export function resultOf(parsed: CliResult, context: ResultContext): ProviderResult {
  try {
    return answerOf(parsed, context);
  } catch (error) {
    // A failed job may have been paid for (its --max-budget-usd is checked after the answer):
    // the error carries what the CLI says it cost, for the budgets and the spend counters.
    const costUsd = jobCostUsd(parsed);
    if (!(error instanceof LlmError) || costUsd === undefined || costUsd === 0) throw error;
    throw new LlmError(error.kind, error.message, error.retryAfterMs, costUsd);
  }
}

/** The result of `resultOf`, or its failure without the cost. */
function answerOf(parsed: CliResult, context: ResultContext): ProviderResult {
  const now = context.now ?? Date.now();
  if (parsed.subtype === "error_max_budget_usd") {
    const ceiling = context.maxCostUsd === undefined ? "" : ` ($${context.maxCostUsd})`;
    const cost = jobCostUsd(parsed);
    throw new LlmError(
      "invalid",
      `the job's max_cost_usd${ceiling} was reached: ${
        parsed.errors?.[0] ?? "maximum budget reached"
      }${cost === undefined ? "" : `; the call cost $${cost}`}`,
    );
  }
  if (parsed.subtype === "error_max_structured_output_retries") {
    throw new LlmError(
      "transient",
      `Claude CLI: the answer did not fit the JSON schema: ${
        parsed.errors?.[0] ?? "structured output retries exhausted"
      }`,
    );
  }
  if (parsed.is_error) {
    const said = parsed.result || parsed.errors?.join("; ") || "error without a message";
    const kind = failureKind(parsed, said);
    const status = parsed.api_error_status ? ` (HTTP ${parsed.api_error_status})` : "";
    throw new LlmError(
      kind,
      `Claude CLI${status}: ${said}`,
      kind === "quota"
        ? (context.resetsAt !== undefined
          ? Math.max(0, context.resetsAt - now)
          : resetInMs(said, now) ?? serverLimitMs(parsed))
        : undefined,
    );
  }
  const structured = parsed.structured_output;
  const hasStructured = structured !== undefined && structured !== null;
  if (context.schemaAsked && !hasStructured) {
    throw new LlmError(
      "transient",
      "Claude CLI: the model answered in text instead of the JSON the schema asks for " +
        `(no structured_output): ${(parsed.result ?? "").slice(0, 200)}`,
    );
  }
  const answer = hasStructured ? JSON.stringify(structured) : parsed.result ?? "";
  if (answer.trim() === "") throw new LlmError("transient", "Claude CLI returned an empty result");
  if (parsed.stop_reason === "max_tokens") {
    throw new LlmError("transient", "Claude CLI output was truncated (stop_reason max_tokens)");
  }
  const models = parsed.model_usage_since_last_result ?? parsed.modelUsage ?? {};
  const costUsd = jobCostUsd(parsed);
  return {
    text: answer,
    parsed: hasStructured ? structured : undefined,
    model: Object.keys(models)[0] ?? context.requestedModel ?? "claude",
    provider: "claude",
    usage: usageOf(parsed.usage ?? {}),
    ...(costUsd !== undefined ? { cost_usd: costUsd } : {}),
    stop_reason: parsed.stop_reason ?? undefined,
  };
}

/**
 * What this job cost as the CLI priced it: the sum of `costUSD` over the models used since the
 * last result (stream-json), since `total_cost_usd` runs over a warm process's whole
 * conversation; else `total_cost_usd` (one job per process, or a conversation just cleared).
 * `undefined` when the CLI said neither.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { jobCostUsd } from "./result.ts";
 *
 * // The second job of a warm process: its own cost, not the conversation's.
 * assert.equal(jobCostUsd({
 *   total_cost_usd: 0.00274,
 *   model_usage_since_last_result: { "claude-opus-5-5": { costUSD: 0.001288 } },
 * }), 0.001288);
 * assert.equal(jobCostUsd({ total_cost_usd: 0.001264 }), 0.001264);
 * ```
 */
export function jobCostUsd(parsed: CliResult): number | undefined {
  const costs = Object.values(parsed.model_usage_since_last_result ?? {})
    .map((model) => model.costUSD)
    .filter((cost): cost is number => typeof cost === "number" && Number.isFinite(cost));
  if (costs.length > 0) return costs.reduce((sum, cost) => sum + cost, 0);
  const total = parsed.total_cost_usd;
  return typeof total === "number" && Number.isFinite(total) ? total : undefined;
}

/**
 * The result of a one-job process (`--output-format json`) from its exit code and output.
 * Output that is not the CLI's JSON (a crash, refused arguments, a missing login on stderr)
 * is classified by its text.
 */
export function parseCliOutput(
  output: { code: number; stdout: string; stderr: string },
  context: ResultContext,
): ProviderResult {
  const text = output.stdout.trim();
  let parsed: CliResult | undefined;
  try {
    parsed = text.startsWith("{") ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed) {
    const said = (output.stderr.trim() || text || `exit code ${output.code}`).slice(0, 500);
    if (/unknown option|error: option/i.test(said)) {
      throw new LlmError("transient", `the Claude CLI refused its arguments (too old?): ${said}`);
    }
    const kind = classifyText(said);
    const now = context.now ?? Date.now();
    throw new LlmError(
      kind,
      `Claude CLI: ${said}`,
      kind === "quota" ? resetInMs(said, now) : undefined,
    );
  }
  if (output.code !== 0 && !parsed.is_error && parsed.subtype === "success") {
    parsed = { ...parsed, is_error: true };
  }
  return resultOf(parsed, context);
}
