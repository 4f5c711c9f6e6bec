/**
 * The autoscaler that acts (`--autoscale MIN,MAX`): once a second it reads the backlog, asks
 * `decideSize` (autoscale.ts) and grows the pool or drains one worker away; every decision that
 * changes the size or its reason is logged, and the last one is what `/metrics` exports.
 */

import { type Clock, systemClock } from "../async/clock.ts";
import { log } from "../log/log.ts";
import { poolSizeOwner } from "./pool_plan.ts";
import {
  type AutoscaleDecision,
  type AutoscaleRange,
  decideSize,
  hasRoomForOneFewer,
} from "./autoscale.ts";

/** What the autoscaler reads and moves. */
export interface AutoscalerOptions {
  /** The pool's name in `WORKER_POOLS`, named in the log; `undefined`: the one pool without it. */
  poolName?: string;
  range: AutoscaleRange;
  /** `AUTOSCALE_DOWN_DELAY`. */
  scaleDownDelayMs: number;
  /** Jobs one worker runs at once. */
  slotsPerWorker: number;
  /** The jobs a free worker would take now (`state/backlog.ts`); a rejection skips the round. */
  readBacklog(): Promise<number>;
  /** The pool: its size (without the workers draining away) and its jobs in flight. */
  pool: { size(): number; busySlots(): number; grow(): number; shrink(): number };
  /** The default provider is paused (auth, quota, budget). */
  providerPaused(): boolean;
  /** The most workers the memory holds; `undefined`: unknown. */
  memoryMaxWorkers: number | undefined;
  /** The most workers that get a share of `LLM_MAX_IN_FLIGHT` when every queue is an LLM queue. */
  llmMaxWorkers?: number;
  /** Told after every change of size it made (the LLM bound is re-split then). */
  onResize?(size: number): void;
  /** Told after every look: the pool's size then and the decision (for `info`'s record). */
  onLook?(size: number, decision: AutoscaleDecision): void;
  /** How often it looks. @default {1000} */
  intervalMs?: number;
  /** @default {systemClock} */
  clock?: Clock;
}

/** The autoscaler's last decision and the range, as `/health` and `/metrics` show them. */
export interface AutoscaleState {
  range: AutoscaleRange;
  decision: AutoscaleDecision | undefined;
}

const logger = log("autoscale");

/** Looks every `intervalMs`, the first time one interval from now (the pool has started by then); `stop()` ends it. */
export function startAutoscaler(options: AutoscalerOptions) {
  const clock = options.clock ?? systemClock;
  const state: AutoscaleState = { range: options.range, decision: undefined };
  let roomSinceMs: number | undefined;
  let lastChangeAtMs: number | undefined;
  let lastSize = options.pool.size();
  let busy = false;
  const round = async () => {
    if (busy) return;
    busy = true;
    try {
      const backlog = await options.readBacklog();
      const nowMs = clock.now();
      const current = options.pool.size();
      // A change by anyone (a signal, `scale`) restarts the wait before the next shrink.
      if (current !== lastSize) lastChangeAtMs = nowMs;
      lastSize = current;
      const seen = {
        current,
        backlog,
        busySlots: options.pool.busySlots(),
        slotsPerWorker: options.slotsPerWorker,
      };
      roomSinceMs = hasRoomForOneFewer(seen) ? roomSinceMs ?? nowMs : undefined;
      const decision = decideSize({
        ...seen,
        range: options.range,
        providerPaused: options.providerPaused(),
        memoryMaxWorkers: options.memoryMaxWorkers,
        llmMaxWorkers: options.llmMaxWorkers,
        nowMs,
        roomSinceMs,
        lastChangeAtMs,
        scaleDownDelayMs: options.scaleDownDelayMs,
      });
      const previous = state.decision;
      state.decision = decision;
      let size = current;
      while (size < decision.desired && size < options.range.max) {
        const grown = options.pool.grow();
        if (grown === size) break;
        size = grown;
      }
      if (decision.desired < size) size = options.pool.shrink();
      if (size !== current) {
        lastChangeAtMs = nowMs;
        lastSize = size;
        options.onResize?.(size);
      }
      options.onLook?.(size, decision);
      if (size !== current || previous?.reason !== decision.reason) {
        logger.info("{pool}size {from} -> {to} ({reason}: {detail})", {
          pool: poolSizeOwner(options.poolName),
          from: current,
          to: size,
          reason: decision.reason,
          detail: decision.detail,
        });
      }
    } catch {
      // Redis trouble shows in /health through the Redis probe; the next round tries again.
    } finally {
      busy = false;
    }
  };
  const timer = clock.setInterval(round, options.intervalMs ?? 1000);
  return {
    state,
    stop() {
      clock.clearInterval(timer);
    },
  };
}
