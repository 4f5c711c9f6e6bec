/** The shared pause of an LLM provider: auth failed, quota or budget exhausted, billing refused; in Redis for every worker. */

import type { RedisClient } from "../redis/connection.ts";
import { redact } from "../log/redact.ts";
import { PAUSE_HISTORY_KEY, pauseKey, quotaStrikesKey } from "../redis/keys.ts";

/**
 * Why a provider is paused: its credentials were refused (`auth_failed`), its usage or rate
 * limit was hit (`quota_exceeded`), a ppr-worker budget (`LLM_BUDGET_USD`) is spent (`budget`:
 * until the budget's reset), or the account's own spend limit or payment refused the call
 * (`billing`).
 */
export type PauseReason = "auth_failed" | "quota_exceeded" | "budget" | "billing";

/** Every pause reason, for readers that show or count them. */
export const PAUSE_REASONS: readonly PauseReason[] = [
  "auth_failed",
  "quota_exceeded",
  "budget",
  "billing",
];

/** What `ppr:llm:pause:<provider>` holds. The key expires when work may resume. */
export interface Pause {
  state: PauseReason;
  reason: string;
  /** Epoch ms. */
  since: number;
  /** Epoch ms when work resumes (the key's expiry). */
  retry_at: number;
}

/** Auth pauses last this long by default (`LLM_PROBE_INTERVAL`); then a job or the probe tries again. */
export const AUTH_RETRY_MS = 5 * 60_000;
/** A quota pause without a reset time: 1 h, then ×1.5 per pause in a row, at most 4 h. */
export const QUOTA_FIRST_MS = 3_600_000;
/** The longest a quota pause without a reset time lasts. */
export const QUOTA_MAX_MS = 4 * 3_600_000;

/**
 * How long a quota pause lasts: the provider's reset time when it gave one,
 * else 1 h growing ×1.5 with each pause in a row, up to 4 h.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { quotaPauseMs } from "./pause.ts";
 *
 * assert.equal(quotaPauseMs(1, undefined), 3_600_000);
 * assert.equal(quotaPauseMs(2, undefined), 5_400_000);
 * assert.equal(quotaPauseMs(9, undefined), 14_400_000);
 * assert.equal(quotaPauseMs(3, 60_000), 60_000);
 * ```
 */
export function quotaPauseMs(strikes: number, resetInMs: number | undefined): number {
  if (resetInMs !== undefined) return Math.max(1000, resetInMs);
  return Math.min(QUOTA_MAX_MS, Math.round(QUOTA_FIRST_MS * 1.5 ** Math.max(0, strikes - 1)));
}

/** The current pause of `provider`, or `undefined` when it may be called. */
export async function readPause(redis: RedisClient, provider: string): Promise<Pause | undefined> {
  return parsePause(await redis.get(pauseKey(provider)));
}

/** A pause record as stored in Redis; `undefined` for none or one that is not JSON. */
export function parsePause(value: string | null): Pause | undefined {
  if (!value) return undefined;
  try {
    return JSON.parse(value) as Pause;
  } catch {
    return undefined;
  }
}

/**
 * Pauses `provider` for every worker. The first worker to see the failure
 * sets the pause; the others, failing at the same moment, keep it as it is. A `budget` pause
 * lasts until `untilMs` (the budget's reset); `quota_exceeded` and `billing` as
 * {@link quotaPauseMs} says; `auth_failed` for `authRetryMs`.
 */
export async function pauseProvider(
  redis: RedisClient,
  provider: string,
  state: PauseReason,
  reason: string,
  options: { resetInMs?: number; authRetryMs?: number; untilMs?: number; now?: number } = {},
): Promise<Pause> {
  const now = options.now ?? Date.now();
  const existing = await readPause(redis, provider);
  if (existing && existing.retry_at > now) return existing;
  let durationMs = options.authRetryMs ?? AUTH_RETRY_MS;
  if (state === "budget") {
    durationMs = Math.max(1000, (options.untilMs ?? now + 60_000) - now);
  } else if (state === "quota_exceeded" || state === "billing") {
    const strikes = await redis.incr(quotaStrikesKey(provider));
    await redis.pexpire(quotaStrikesKey(provider), QUOTA_MAX_MS * 3);
    durationMs = quotaPauseMs(strikes, options.resetInMs);
  }
  const pause: Pause = {
    state,
    reason: redact(reason).slice(0, 500),
    since: now,
    retry_at: now + durationMs,
  };
  const set = await redis.set(pauseKey(provider), JSON.stringify(pause), "PX", durationMs, "NX");
  if (set !== "OK") return (await readPause(redis, provider)) ?? pause;
  await recordPauseEvent(redis, provider, now, [
    ["event", "start"],
    ["state", state],
    ["since", String(now)],
    ["retry_at", String(pause.retry_at)],
  ]);
  return pause;
}

/** How long the pause history keeps an event: 7 days. */
export const PAUSE_HISTORY_KEEP_MS = 7 * 86_400_000;
/** The most events the pause history keeps, whatever their age. */
export const PAUSE_HISTORY_MAX_EVENTS = 1000;

/**
 * Adds one event to the pause history (`ppr:llm:pause-history`), trimmed to
 * {@link PAUSE_HISTORY_KEEP_MS} and {@link PAUSE_HISTORY_MAX_EVENTS}. A history that cannot be
 * written loses the event, never the pause: the pause itself is already set or ended.
 */
async function recordPauseEvent(
  redis: RedisClient,
  provider: string,
  atMs: number,
  fields: [name: string, value: string][],
): Promise<void> {
  await redis.multi()
    .xadd(
      PAUSE_HISTORY_KEY,
      "MINID",
      String(atMs - PAUSE_HISTORY_KEEP_MS),
      "*",
      "provider",
      provider,
      ...fields.flat(),
    )
    .xtrim(PAUSE_HISTORY_KEY, "MAXLEN", PAUSE_HISTORY_MAX_EVENTS)
    .exec()
    .catch(() => {});
}

/** Ends a pause (the probe passed) and, after a success, the run of quota strikes. */
export async function clearPause(
  redis: RedisClient,
  provider: string,
  only?: PauseReason,
): Promise<void> {
  if (only) {
    const pause = await readPause(redis, provider);
    if (pause?.state !== only) return;
  }
  if (await redis.del(pauseKey(provider)) === 1) {
    await recordPauseEvent(redis, provider, Date.now(), [["event", "end"]]);
  }
}

/** Ends the run of quota pauses in a row: the next quota pause starts again at 1 h. */
export async function clearQuotaStrikes(redis: RedisClient, provider: string): Promise<void> {
  await redis.del(quotaStrikesKey(provider));
}
