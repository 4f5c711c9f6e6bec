/** The failure classes of an LLM call, and the pure rules that tell them apart. */

/**
 * - `invalid`: the job can never succeed as it is (bad request, unknown model): fail at once.
 * - `auth`: credentials missing or refused: pause the provider, give the job back.
 * - `quota`: usage limit or rate limit: pause until the reset time, give the job back.
 * - `overloaded`: the provider is short of capacity for everyone (Anthropic's 529
 *   `overloaded_error`, a 503 of an OpenAI-compatible server): nothing is wrong with the job or
 *   the account; back off with jitter, a bounded number of times.
 * - `billing`: the account cannot pay (Anthropic's 402 `billing_error`, a spend limit reached,
 *   OpenAI's `insufficient_quota`, "credit balance is too low"): no retry helps until someone
 *   pays or raises the limit, so pause the provider and never retry in a loop.
 * - `transient`: timeout, network, 5xx, empty, truncated or off-schema output: retry with backoff.
 */
export type FailureKind = "invalid" | "auth" | "quota" | "overloaded" | "billing" | "transient";

/** A failed LLM call, with its failure class. */
export class LlmError extends Error {
  override name = "LlmError";
  constructor(
    readonly kind: FailureKind,
    message: string,
    /** When the provider said when to come back (quota, overloaded). */
    readonly retryAfterMs?: number,
    /**
     * What the failed call cost, when the provider says (the Claude CLI reports a failed job's
     * cost: its `--max-budget-usd` is checked after the model's answer was paid for).
     */
    readonly costUsd?: number,
  ) {
    super(message);
  }
}

const AUTH_PATTERNS = [
  /not logged in/i,
  /please run \/login/i,
  /invalid api key/i,
  /invalid x-api-key/i,
  /authentication[_ ]error/i,
  /oauth token (has )?expired/i,
  /unauthorized/i,
  /credentials? (are )?(missing|invalid)/i,
];
/**
 * The account cannot pay: Anthropic's wording of a low balance and of a spend limit reached
 * ("You have reached your specified API usage limits"), the error types and codes of both APIs
 * (checked before the quota patterns: several of these also speak of a quota or a limit).
 */
const BILLING_PATTERNS = [
  /credit balance is too low/i,
  /reached your specified (workspace )?api usage limits/i,
  /spend[_ ]limit/i,
  /billing[_ ]error/i,
  /insufficient[_ ]quota/i,
  /exceeded your current quota/i,
  /credit_balance_exhausted/i,
  /organization_usage_limit_exceeded/i,
];
const QUOTA_PATTERNS = [
  /usage limit/i,
  /rate[_ ]limit/i,
  /limit reached/i,
  /quota/i,
  /too many requests/i,
];
const OVERLOADED_PATTERNS = [/overloaded/i];

/**
 * The error types and codes (in an error body's `type`, `code` or `details.error_code`) that
 * mean the account cannot pay: Anthropic's `billing_error` and monthly spend cap
 * (`enforced_spend_limit_reached`, sent as a 429 `rate_limit_error`), OpenAI's
 * `insufficient_quota` and the codes it sends it with (also 429s).
 */
const BILLING_CODES = new Set([
  "billing_error",
  "enforced_spend_limit_reached",
  "insufficient_quota",
  "credit_balance_exhausted",
  "organization_spend_limit_exceeded",
  "project_spend_limit_exceeded",
  "organization_usage_limit_exceeded",
]);

/**
 * Reads a reset time out of a provider's message: `|1767225600` (epoch
 * seconds, as older Claude CLIs print it), `resets 9:29am (UTC)` (the Claude CLI's
 * subscription limit; the next such time of day in UTC), `resets in 2h`,
 * `try again in 30 minutes`. Returns milliseconds from `now`, or `undefined`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { resetInMs } from "./errors.ts";
 *
 * const now = Date.UTC(2026, 0, 1, 9, 0);
 * assert.equal(resetInMs("You've hit your 5-hour limit · resets 9:29am (UTC)", now), 29 * 60_000);
 * ```
 */
export function resetInMs(text: string, now = Date.now()): number | undefined {
  const epoch = /\|(\d{10})\b/.exec(text);
  if (epoch) return Math.max(0, Number(epoch[1]) * 1000 - now);
  const clock = /resets (\d{1,2})(?::(\d{2}))?\s*(am|pm)\s*\(UTC\)/i.exec(text);
  if (clock) {
    const hour = (Number(clock[1]) % 12) + (clock[3].toLowerCase() === "pm" ? 12 : 0);
    const today = new Date(now);
    let at = Date.UTC(
      today.getUTCFullYear(),
      today.getUTCMonth(),
      today.getUTCDate(),
      hour,
      Number(clock[2] ?? 0),
    );
    if (at <= now) at += 86_400_000;
    return at - now;
  }
  const relative =
    /(?:resets?|again|retry) in (\d+(?:\.\d+)?)\s*(s|sec|seconds?|m|min|minutes?|h|hours?)\b/i
      .exec(text);
  if (!relative) return undefined;
  const unit = relative[2][0].toLowerCase();
  return Number(relative[1]) * (unit === "h" ? 3_600_000 : unit === "m" ? 60_000 : 1000);
}

/**
 * Classifies a provider's error text (CLI output, API error message): auth, billing, quota,
 * overloaded, in that order, else transient.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { classifyText } from "./errors.ts";
 *
 * assert.equal(classifyText("Your credit balance is too low to access the Anthropic API"), "billing");
 * assert.equal(classifyText("Claude AI usage limit reached|1700000000"), "quota");
 * assert.equal(classifyText("socket hang up"), "transient");
 * ```
 */
export function classifyText(text: string): FailureKind {
  if (AUTH_PATTERNS.some((pattern) => pattern.test(text))) return "auth";
  if (BILLING_PATTERNS.some((pattern) => pattern.test(text))) return "billing";
  if (QUOTA_PATTERNS.some((pattern) => pattern.test(text))) return "quota";
  if (OVERLOADED_PATTERNS.some((pattern) => pattern.test(text))) return "overloaded";
  return "transient";
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds from `now`. */
export function retryAfterMs(
  value: string | null | undefined,
  now = Date.now(),
): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Classifies an HTTP error of an LLM API. `codes` are the error body's type and codes
 * (Anthropic's `error.type` and `error.details.error_code`, OpenAI's `error.type` and
 * `error.code`), which name a cause the status alone does not:
 * - 401/403: auth;
 * - 402, or a billing type or code (whatever the status), or a 400/429 whose text speaks of
 *   credit or a spend limit: billing;
 * - 429: quota, with `Retry-After`;
 * - 529, 503 or `overloaded_error`: overloaded, with `Retry-After` when the server sent one;
 * - 400/404/413/422: invalid (auth or quota when the text says so);
 * - everything else (500, 408, 409, network): transient.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { classifyHttp } from "./errors.ts";
 *
 * const overloaded = classifyHttp(529, "Overloaded", new Headers({ "retry-after": "3" }));
 * assert.equal(overloaded.kind, "overloaded");
 * assert.equal(overloaded.retryAfterMs, 3000);
 * assert.equal(classifyHttp(429, "You exceeded your current quota", undefined, ["insufficient_quota"]).kind, "billing");
 * ```
 */
export function classifyHttp(
  status: number | undefined,
  message: string,
  headers?: { get(name: string): string | null },
  codes: readonly string[] = [],
): LlmError {
  const said = status ? `HTTP ${status}: ${message}` : message;
  const retryAfter = () => retryAfterMs(headers?.get("retry-after"));
  if (status === 401 || status === 403) return new LlmError("auth", said);
  const textKind = classifyText(message);
  if (
    status === 402 || codes.some((code) => BILLING_CODES.has(code)) ||
    ((status === 400 || status === 429) && textKind === "billing")
  ) {
    return new LlmError("billing", said);
  }
  if (status === 429) return new LlmError("quota", said, retryAfter() ?? resetInMs(message));
  if (status === 529 || status === 503 || codes.includes("overloaded_error")) {
    return new LlmError("overloaded", said, retryAfter());
  }
  if (status === 400 || status === 404 || status === 413 || status === 422) {
    // A 400 that speaks of a login or of a limit is the account's problem, not a bad request.
    return new LlmError(textKind === "auth" || textKind === "quota" ? textKind : "invalid", said);
  }
  return new LlmError("transient", said);
}

/**
 * Maps an SDK error (with its HTTP status, headers and the body's error type and code) or a
 * network failure to a failure class. Both SDKs expose the body's `type`; Anthropic's its
 * `errorCode`, OpenAI's its `code`.
 */
export function classifySdkError(error: unknown): LlmError {
  if (error instanceof LlmError) return error;
  const fields = (error ?? {}) as {
    status?: unknown;
    headers?: Headers;
    type?: unknown;
    code?: unknown;
    errorCode?: unknown;
  };
  const message = error instanceof Error ? error.message : String(error);
  const codes = [fields.type, fields.code, fields.errorCode].filter(
    (code): code is string => typeof code === "string",
  );
  const status = typeof fields.status === "number" ? fields.status : undefined;
  return classifyHttp(status, message, fields.headers, codes);
}
