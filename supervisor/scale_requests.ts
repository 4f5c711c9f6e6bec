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
 * assert.deepEqual(scaledSize(18, 16, undefined, "the other pools may run 4"), {
 *   size: 16,
 *   note: "18 is outside at most 16 (the other pools may run 4)",
 * });
 * ```
 */
export function scaledSize(
  asked: number,
  maxWorkers: number,
  range: AutoscaleRange | undefined,
  why?: string,
): { size: number; note?: string } {
  const low = range?.min ?? 1;
  const high = Math.min(maxWorkers, range?.max ?? maxWorkers);
  const size = Math.min(high, Math.max(low, asked));
  const bounds = range
    ? `the autoscaler's range ${range.min}-${range.max}`
    : `at most ${high}${why ? ` (${why})` : ""}`;
  if (size !== asked) return { size, note: `${asked} is outside ${bounds}` };
  return range
    ? { size, note: `autoscaling ${range.min}-${range.max}: it goes on from ${size}` }
    : { size };
}

/** One pool the listener resizes. */
export interface ScalePool {
  /** Its name in `WORKER_POOLS`; `undefined`: the one pool without it. */
  name: string | undefined;
  /** The most workers it may have now, and why when that is less than its own maximum. */
  maxWorkers(): { max: number; why?: string };
  range: AutoscaleRange | undefined;
  size(): number;
  /** Its supervisor is stopping (SIGTERM): the pool is draining and resizes no more. */
  stopping(): boolean;
  /** Grows or drains the pool to `size` workers; returns the size it reached. */
  resize(size: number): number;
}

/** What the listener resizes: the pools of one supervisor. */
export interface ScaleTarget {
  hostname: string;
  pools: ScalePool[];
}

/**
 * The pool a request resizes: the one it names (`skipped` when this supervisor has none of that
 * name), else the only one; a request that names none, to a supervisor of several, is refused
 * with the names to choose from.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { addressedPool } from "./scale_requests.ts";
 *
 * const pools = [{ name: "llm" }, { name: "recorder" }];
 * assert.deepEqual(addressedPool(pools, "recorder"), { pool: pools[1] });
 * assert.deepEqual(addressedPool(pools, "other"), { skipped: true });
 * assert.match(addressedPool(pools, undefined).error ?? "", /--pool/);
 * ```
 */
export function addressedPool<P extends { name: string | undefined }>(
  pools: P[],
  asked: string | undefined,
): { pool?: P; skipped?: boolean; error?: string } {
  if (asked !== undefined) {
    const pool = pools.find((pool) => pool.name === asked);
    return pool ? { pool } : { skipped: true };
  }
  if (pools.length === 1) return { pool: pools[0] };
  return {
    error: `it runs ${pools.length} pools (${
      pools.map((pool) => pool.name).join(", ")
    }): name one with --pool`,
  };
}

/**
 * Subscribes (on a connection of its own) to `scale` requests and answers each one on its
 * answers channel, resized or `skipped` when it names another host or a pool this one does not
 * run. `stop()` unsubscribes.
 */
export function listenForScaleRequests(redis: RedisClient, target: ScaleTarget) {
  const subscriber = redis.duplicate();
  subscriber.on("error", () => {
    // The supervisor's own connection reports Redis trouble; this one reconnects by itself.
  });
  const answer = (request: ScaleRequest): ScaleAnswer => {
    const total = () => target.pools.reduce((sum, pool) => sum + pool.size(), 0);
    const host = target.hostname;
    if (request.host !== undefined && request.host !== host) {
      return { host, skipped: true, from: total(), to: total() };
    }
    const { pool, skipped, error } = addressedPool(target.pools, request.pool);
    if (!pool) {
      return {
        host,
        skipped: skipped === true,
        from: total(),
        to: total(),
        ...(error ? { error } : {}),
      };
    }
    const from = pool.size();
    const resized = (): { to: number; note?: string } => {
      const most = pool.maxWorkers();
      const { size, note } = scaledSize(request.size, most.max, pool.range, most.why);
      return { to: pool.resize(size), note };
    };
    const { to, note } = pool.stopping()
      ? { to: from, note: "it is stopping (SIGTERM): not resized" }
      : resized();
    return {
      host,
      ...(pool.name !== undefined ? { pool: pool.name } : {}),
      skipped: false,
      from,
      to,
      ...(note ? { note } : {}),
    };
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
