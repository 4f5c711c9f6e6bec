/**
 * Publishes an autoscaler's range, size and last decision in Redis (redis/autoscale_records.ts)
 * for `info`: at each change of size or decision, and every few seconds besides so that its TTL
 * never lapses while the supervisor runs; removed when the supervisor stops.
 */

import { deadline } from "../async/mod.ts";
import { log } from "../log/log.ts";
import {
  AUTOSCALE_RECORD_TTL_S,
  removeAutoscaleRecord,
  writeAutoscaleRecord,
} from "../redis/autoscale_records.ts";
import type { RedisClient } from "../redis/connection.ts";
import type { AutoscaleDecision, AutoscaleRange } from "./autoscale.ts";

/** How often an unchanged record is written again: a third of its TTL. */
const REFRESH_MS = (AUTOSCALE_RECORD_TTL_S * 1000) / 3;

const logger = log("autoscale");

/** The publisher of one autoscaling pool of the supervisor of `hostname`. */
export function createAutoscalePublisher(
  redis: RedisClient,
  options: {
    hostname: string;
    /** The pool's name in `WORKER_POOLS`; `undefined`: the one pool. */
    poolName?: string;
    range: AutoscaleRange;
    now?: () => number;
  },
) {
  const now = options.now ?? Date.now;
  const pool = options.poolName ?? null;
  let last: { text: string; atMs: number } | undefined;
  let failing = false;
  let removed = false;
  /** The write in flight: `remove` waits for it, so that no record comes back after it. */
  let writing: Promise<void> = Promise.resolve();
  const write = async (size: number, decision: AutoscaleDecision | undefined) => {
    const text = JSON.stringify([size, decision?.desired, decision?.reason, decision?.detail]);
    const nowMs = now();
    if (removed || (last && last.text === text && nowMs - last.atMs < REFRESH_MS)) return;
    try {
      await deadline(
        writeAutoscaleRecord(redis, {
          hostname: options.hostname,
          pool,
          min: options.range.min,
          max: options.range.max,
          size,
          desired: decision?.desired ?? null,
          reason: decision?.reason ?? null,
          detail: decision?.detail ?? null,
          at: new Date(nowMs).toISOString(),
        }),
        2000,
        "Redis did not answer",
      );
      last = { text, atMs: nowMs };
      failing = false;
    } catch (error) {
      // `info` misses it meanwhile; the pool goes on, and /health still shows the decision.
      if (!failing) {
        logger.debug("the autoscaler's record was not written ({error})", {
          error: error instanceof Error ? error.message : String(error),
        });
      }
      failing = true;
    }
  };
  return {
    /** Called after each of the autoscaler's looks. */
    publish(size: number, decision: AutoscaleDecision | undefined): Promise<void> {
      writing = writing.then(() => write(size, decision));
      return writing;
    },
    /** Removes the record (the supervisor stops), after any write in flight; none follows. */
    async remove(): Promise<void> {
      removed = true;
      await writing;
      await deadline(
        removeAutoscaleRecord(redis, options.hostname, pool),
        2000,
        "Redis did not answer",
      )
        .catch(() => {});
    },
  };
}
