/** The LLM providers' shared pauses as every reader shows them: state, reason, time left, computed once. */

import type { RedisClient } from "../redis/connection.ts";
import { redact } from "../log/redact.ts";
import { type Pause, type PauseReason, readPause } from "../providers/pause.ts";

/** One provider's shared pause (`ppr:llm:pause:<provider>`) at one moment. */
export interface ProviderPause {
  provider: string;
  /** `ok` when it may be called: no pause, or one whose end has passed. */
  state: "ok" | PauseReason;
  /** Why it is paused, secrets hidden; `null` when it is not. */
  reason: string | null;
  /** ISO times; `null` when not paused. */
  since: string | null;
  resumes_at: string | null;
  /** Whole seconds until work resumes, rounded up (never 0 while paused); 0 when not paused. */
  retry_in_s: number;
}

/**
 * Whole seconds from `now` until `retryAt` (both epoch ms), rounded up, so a pause that has
 * not ended never shows 0; 0 once it has ended.
 *
 * @example
 * ```ts
 * secondsLeft(10_001, 0); // 11
 * secondsLeft(10_000, 0); // 10
 * secondsLeft(0, 5_000); // 0
 * ```
 */
export function secondsLeft(retryAt: number, now: number): number {
  return Math.max(0, Math.ceil((retryAt - now) / 1000));
}

/**
 * A provider's pause as every reader shows it at `now` (epoch ms); a pause already over (its key
 * not yet expired) is `ok`.
 *
 * @example
 * ```ts
 * providerPause("echo", undefined, 0).state; // "ok"
 * providerPause("claude", { state: "auth_failed", reason: "Not logged in", since: 0, retry_at: 90_500 }, 500)
 *   .retry_in_s; // 90
 * ```
 */
export function providerPause(
  provider: string,
  pause: Pause | undefined,
  now: number,
): ProviderPause {
  const retryAt = Number(pause?.retry_at) || 0;
  if (!pause || retryAt <= now) {
    return { provider, state: "ok", reason: null, since: null, resumes_at: null, retry_in_s: 0 };
  }
  return {
    provider,
    state: pause.state,
    reason: redact(String(pause.reason ?? "")),
    since: new Date(Number(pause.since) || now).toISOString(),
    resumes_at: new Date(retryAt).toISOString(),
    retry_in_s: secondsLeft(retryAt, now),
  };
}

/**
 * The shared pause of each of `providers` at `now`, in their order. Rejects when Redis does.
 *
 * @example
 * ```ts
 * import type { Redis } from "ioredis";
 * import { readProviderPauses } from "./pauses.ts";
 *
 * // Needs a Redis server, so it is a function: `deno test --doc` type-checks it, never calls it.
 * async function claudeState(redis: Redis): Promise<string> {
 *   const [claude] = await readProviderPauses(redis, ["claude"]);
 *   return claude.state; // "ok" unless paused
 * }
 * ```
 */
export async function readProviderPauses(
  redis: RedisClient,
  providers: readonly string[],
  now: () => number = Date.now,
): Promise<ProviderPause[]> {
  const pauses = await Promise.all(providers.map((provider) => readPause(redis, provider)));
  const at = now();
  return providers.map((provider, index) => providerPause(provider, pauses[index], at));
}
