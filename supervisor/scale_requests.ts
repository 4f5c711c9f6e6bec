/** A supervisor's side of `ppr-worker scale`: it listens on Redis pub/sub, resizes its pool and answers. */

import type { RedisClient } from "../redis/connection.ts";
import { SCALE_CHANNEL, scaleAnswersChannel } from "../redis/keys.ts";
import {
  parseScaleRequest,
  type ScaleAnswer,
  type ScaleRequest,
} from "../protocol/scale_request.ts";
import type { AutoscaleRange } from "./autoscale.ts";

/**
 * The size a request leaves the pool at, and why it is not the one asked for: within 1 and
 * `maxWorkers`, and within an autoscaler's range (which it then goes on from).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { scaledSize } from "./scale_requests.ts";
 *
 * assert.deepEqual(scaledSize(4, 20, undefined), { size: 4 });
 * assert.equal(scaledSize(12, 8, { min: 1, max: 8 }).size, 8);
 * ```
 */
export function scaledSize(
  asked: number,
  maxWorkers: number,
  range: AutoscaleRange | undefined,
): { size: number; note?: string } {
  const low = range?.min ?? 1;
  const high = Math.min(maxWorkers, range?.max ?? maxWorkers);
  const size = Math.min(high, Math.max(low, asked));
  const bounds = range ? `the autoscaler's range ${range.min}-${range.max}` : `at most ${high}`;
  if (size !== asked) return { size, note: `${asked} is outside ${bounds}` };
  return range
    ? { size, note: `autoscaling ${range.min}-${range.max}: it goes on from ${size}` }
    : { size };
}

/** What the listener resizes. */
export interface ScaleTarget {
  hostname: string;
  maxWorkers: number;
  range: AutoscaleRange | undefined;
  size(): number;
  /** Grows or drains the pool to `size` workers; returns the size it reached. */
  resize(size: number): number;
}

/**
 * Subscribes (on a connection of its own) to `scale` requests and answers each one on its
 * answers channel, resized or `skipped` when it names another host. `stop()` unsubscribes.
 */
export function listenForScaleRequests(redis: RedisClient, target: ScaleTarget) {
  const subscriber = redis.duplicate();
  subscriber.on("error", () => {
    // The supervisor's own connection reports Redis trouble; this one reconnects by itself.
  });
  const answer = (request: ScaleRequest): ScaleAnswer => {
    const from = target.size();
    if (request.host !== undefined && request.host !== target.hostname) {
      return { host: target.hostname, skipped: true, from, to: from };
    }
    const { size, note } = scaledSize(request.size, target.maxWorkers, target.range);
    const to = target.resize(size);
    return { host: target.hostname, skipped: false, from, to, ...(note ? { note } : {}) };
  };
  subscriber.on("message", (channel: string, message: string) => {
    if (channel !== SCALE_CHANNEL) return;
    const request = parseScaleRequest(message);
    if (!request) return;
    void redis.publish(scaleAnswersChannel(request.id), JSON.stringify(answer(request)))
      .catch(() => {});
  });
  void subscriber.subscribe(SCALE_CHANNEL).catch(() => {});
  return {
    stop(): void {
      subscriber.disconnect();
    },
  };
}
