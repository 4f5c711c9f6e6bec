/** The failure classes of an LLM call, and the pure rules that tell them apart. */

/**
 * - `invalid`: the job can never succeed as it is (bad request, unknown model): fail at once.
 * - `auth`: credentials missing or refused: pause the provider, give the job back.
 * - `quota`: usage limit or rate limit: pause until the reset time, give the job back.
 * - `transient`: timeout, network, 5xx, empty, truncated or off-schema output: retry with backoff.
 */
export type FailureKind = "invalid" | "auth" | "quota" | "transient";

/** A failed LLM call, with its failure class. */
export class LlmError extends Error {
  override name = "LlmError";
  constructor(
    readonly kind: FailureKind,
    message: string,
    /** When the provider said when to come back (quota). */
    readonly retryAfterMs?: number,
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
const QUOTA_PATTERNS = [
  /usage limit/i,
  /rate[_ ]limit/i,
  /limit reached/i,
  /quota/i,
  /credit balance is too low/i,
  /too many requests/i,
];

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

/** Classifies a provider's error text (CLI output, API error message). */
export function classifyText(text: string): FailureKind {
  if (AUTH_PATTERNS.some((pattern) => pattern.test(text))) return "auth";
  if (QUOTA_PATTERNS.some((pattern) => pattern.test(text))) return "quota";
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
 * Classifies an HTTP error of an LLM API: 401/403 auth, 429 quota (with
 * `Retry-After`), 400/404/422 invalid, everything else (5xx, 408, 409, network) transient.
 */
export function classifyHttp(
  status: number | undefined,
  message: string,
  headers?: { get(name: string): string | null },
): LlmError {
  if (status === 401 || status === 403) return new LlmError("auth", `HTTP ${status}: ${message}`);
  if (status === 429) {
    return new LlmError(
      "quota",
      `HTTP 429: ${message}`,
      retryAfterMs(headers?.get("retry-after")) ?? resetInMs(message),
    );
  }
  if (status === 400 || status === 404 || status === 413 || status === 422) {
    // A 400 that speaks of credit or quota is a quota problem, not a bad request.
    const kind = classifyText(message);
    return new LlmError(kind === "transient" ? "invalid" : kind, `HTTP ${status}: ${message}`);
  }
  return new LlmError("transient", status ? `HTTP ${status}: ${message}` : message);
}

/** Maps an SDK error (with its HTTP status and headers) or a network failure to a failure class. */
export function classifySdkError(error: unknown): LlmError {
  if (error instanceof LlmError) return error;
  const status = (error as { status?: number }).status;
  const headers = (error as { headers?: Headers }).headers;
  const message = error instanceof Error ? error.message : String(error);
  return classifyHttp(typeof status === "number" ? status : undefined, message, headers);
}
