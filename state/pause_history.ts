/** The LLM providers' pauses over time, from the pause history (`ppr:llm:pause-history`) and the pauses in force. */

import type { RedisClient } from "../redis/connection.ts";
import { PAUSE_HISTORY_KEY } from "../redis/keys.ts";
import { type Pause, PAUSE_REASONS, type PauseReason, readPause } from "../providers/pause.ts";

/** What the dashboard charts: the last 24 hours. */
export const PAUSE_WINDOW_MS = 24 * 3_600_000;

/** One event of the history, as recorded by `providers/pause.ts`. */
export interface PauseEvent {
  /** When it was written (the stream entry's id), epoch ms. */
  atMs: number;
  provider: string;
  event: "start" | "end";
  /** A start's reason, its start and planned end (epoch ms). */
  state?: PauseReason;
  sinceMs?: number;
  retryAtMs?: number;
}

/** One pause of one provider, within the window. */
export interface PauseSpan {
  state: PauseReason;
  /** ISO times, cut to the window: `start` not before it, `end` not after now. */
  start: string;
  end: string;
  /** Still in force now. */
  ongoing: boolean;
}

/** One provider's pauses in the window, oldest first. */
export interface ProviderPauseHistory {
  provider: string;
  spans: PauseSpan[];
}

/**
 * A stream entry of the history as an event; `undefined` for one of another layout.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { parsePauseEvent } from "./pause_history.ts";
 *
 * assert.deepEqual(parsePauseEvent(["1000-0", ["provider", "claude", "event", "end"]]), {
 *   atMs: 1000,
 *   provider: "claude",
 *   event: "end",
 * });
 * assert.equal(parsePauseEvent(["1000-0", ["provider", "claude"]]), undefined);
 * ```
 */
export function parsePauseEvent(
  [id, flat]: [id: string, fields: string[]],
): PauseEvent | undefined {
  const fields = new Map<string, string>();
  for (let index = 0; index + 1 < flat.length; index += 2) fields.set(flat[index], flat[index + 1]);
  const atMs = Number(id.split("-")[0]);
  const provider = fields.get("provider");
  const event = fields.get("event");
  if (!Number.isFinite(atMs) || !provider) return undefined;
  if (event === "end") return { atMs, provider, event };
  const state = fields.get("state") as PauseReason | undefined;
  const sinceMs = Number(fields.get("since"));
  const retryAtMs = Number(fields.get("retry_at"));
  if (event !== "start" || !state || !PAUSE_REASONS.includes(state)) return undefined;
  if (!Number.isFinite(sinceMs) || !Number.isFinite(retryAtMs)) return undefined;
  return { atMs, provider, event, state, sinceMs, retryAtMs };
}

/**
 * The pauses of each of `providers` between `fromMs` and `nowMs`: each started pause lasts until
 * its planned end (its key's expiry), an `end` event (a probe passed), or the next start,
 * whichever comes first. A pause in force that the history lacks (it started before the history
 * was kept, or its event was lost) is added from `current`, since its start.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { pauseHistories } from "./pause_history.ts";
 *
 * const [claude] = pauseHistories(
 *   [
 *     { atMs: 1000, provider: "claude", event: "start", state: "auth_failed", sinceMs: 1000, retryAtMs: 9000 },
 *     { atMs: 4000, provider: "claude", event: "end" },
 *   ],
 *   new Map(),
 *   ["claude"],
 *   { fromMs: 0, nowMs: 10_000 },
 * );
 * assert.deepEqual(claude.spans, [{
 *   state: "auth_failed",
 *   start: new Date(1000).toISOString(),
 *   end: new Date(4000).toISOString(),
 *   ongoing: false,
 * }]);
 * ```
 */
export function pauseHistories(
  events: readonly PauseEvent[],
  current: ReadonlyMap<string, Pause | undefined>,
  providers: readonly string[],
  window: { fromMs: number; nowMs: number },
): ProviderPauseHistory[] {
  const { fromMs, nowMs } = window;
  return providers.map((provider) => {
    const own = events.filter((event) => event.provider === provider)
      .sort((a, b) => a.atMs - b.atMs);
    const spans: { state: PauseReason; startMs: number; endMs: number }[] = [];
    own.forEach((event, index) => {
      if (event.event !== "start") return;
      const next = own[index + 1];
      const cutAt = next === undefined
        ? Infinity
        : next.event === "end"
        ? next.atMs
        : next.sinceMs ?? next.atMs;
      spans.push({
        state: event.state!,
        startMs: event.sinceMs!,
        endMs: Math.min(event.retryAtMs!, cutAt),
      });
    });
    const now = current.get(provider);
    if (now && now.retry_at > nowMs && !spans.some((span) => span.startMs === now.since)) {
      spans.push({ state: now.state, startMs: Number(now.since) || nowMs, endMs: now.retry_at });
    }
    return {
      provider,
      spans: spans
        .filter((span) => span.endMs > fromMs && span.startMs <= nowMs)
        .sort((a, b) => a.startMs - b.startMs)
        .map((span) => ({
          state: span.state,
          start: new Date(Math.max(span.startMs, fromMs)).toISOString(),
          end: new Date(Math.min(span.endMs, nowMs)).toISOString(),
          ongoing: span.endMs > nowMs,
        })),
    };
  });
}

/**
 * Each of `providers`' pauses over the last `windowMs` (the whole history, at most
 * `PAUSE_HISTORY_MAX_EVENTS` entries, in one `XRANGE`, and each pause in force). Rejects when
 * Redis does.
 *
 * @example
 * ```ts
 * import type { Redis } from "ioredis";
 * import { readPauseHistories } from "./pause_history.ts";
 *
 * // Needs a Redis server, so it is a function: `deno test --doc` type-checks it, never calls it.
 * async function claudePauses(redis: Redis): Promise<number> {
 *   const [claude] = await readPauseHistories(redis, ["claude"]);
 *   return claude.spans.length;
 * }
 * ```
 */
export async function readPauseHistories(
  redis: RedisClient,
  providers: readonly string[],
  options: { windowMs?: number; now?: number } = {},
): Promise<ProviderPauseHistory[]> {
  const [entries, pauses] = await Promise.all([
    redis.xrange(PAUSE_HISTORY_KEY, "-", "+"),
    Promise.all(providers.map((provider) => readPause(redis, provider))),
  ]);
  const nowMs = options.now ?? Date.now();
  const events = entries.map(parsePauseEvent)
    .filter((event): event is PauseEvent => event !== undefined);
  const current = new Map(providers.map((provider, index) => [provider, pauses[index]]));
  return pauseHistories(events, current, providers, {
    fromMs: nowMs - (options.windowMs ?? PAUSE_WINDOW_MS),
    nowMs,
  });
}
