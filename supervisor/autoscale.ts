/**
 * The autoscaler's decision (`--autoscale MIN,MAX`): how many workers the pool should have,
 * and why, as a pure function of what it sees. Up fast (as many workers as the jobs waiting
 * need, at once), down slowly (one worker at a time, after the pool has had room for one fewer
 * for `scaleDownDelayMs`). The code that acts on it only grows and drains.
 */

/** `WORKER_AUTOSCALE`: the pool's size stays within `min` and `max`. */
export interface AutoscaleRange {
  min: number;
  max: number;
}

/** Why the autoscaler wants the size it wants: the `reason` label of its metrics. */
export type AutoscaleReason =
  | "below_min"
  | "above_max"
  | "backlog"
  | "at_max"
  | "provider_paused"
  | "memory"
  | "llm_bound"
  | "idle"
  | "cooling_down"
  | "steady";

/** What the autoscaler sees at one moment. */
export interface AutoscaleInputs {
  range: AutoscaleRange;
  /** Workers the pool has now (those draining away not counted). */
  current: number;
  /** Jobs a free worker would take now: waiting, prioritized, delayed and due. */
  backlog: number;
  /** Jobs in flight in the pool. */
  busySlots: number;
  /** Jobs one worker runs at once. */
  slotsPerWorker: number;
  /** The default provider is paused (auth, quota, budget): more workers would not help. */
  providerPaused: boolean;
  /** The most workers the container's memory allows; `undefined`: unknown, no cap. */
  memoryMaxWorkers: number | undefined;
  /**
   * When every queue is an LLM queue under `LLM_MAX_IN_FLIGHT`: the most workers that get a
   * share of it (a worker past them would take nothing); `undefined`: no such cap.
   */
  llmMaxWorkers?: number;
  /** Now, epoch ms. */
  nowMs: number;
  /** Since when the pool has had room for one worker fewer with nothing waiting; `undefined`: it has not. */
  roomSinceMs: number | undefined;
  /** When the pool last changed size (by anyone); `undefined`: never. */
  lastChangeAtMs: number | undefined;
  /** How long the pool must have had room for one worker fewer, and not changed, before it shrinks by one. */
  scaleDownDelayMs: number;
}

/** The size the pool should have, and why. */
export interface AutoscaleDecision {
  desired: number;
  reason: AutoscaleReason;
  /** The reason in words, with the figures: what the log says. */
  detail: string;
}

/**
 * Whether the pool has room for one worker fewer: nothing waits, and the jobs in flight would
 * fit in the others.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { hasRoomForOneFewer } from "./autoscale.ts";
 *
 * assert.equal(hasRoomForOneFewer({ current: 3, backlog: 0, busySlots: 2, slotsPerWorker: 1 }), true);
 * assert.equal(hasRoomForOneFewer({ current: 3, backlog: 1, busySlots: 0, slotsPerWorker: 1 }), false);
 * ```
 */
export function hasRoomForOneFewer(
  inputs: Pick<AutoscaleInputs, "current" | "backlog" | "busySlots" | "slotsPerWorker">,
): boolean {
  return inputs.backlog === 0 &&
    inputs.busySlots <= (inputs.current - 1) * inputs.slotsPerWorker;
}

/**
 * The autoscaler's decision. Never outside `range` (itself within 1–20); grows toward `max`
 * while jobs wait, unless the provider is paused or the memory allows no more; shrinks by one
 * once the pool has had room for one fewer, and not changed, for `scaleDownDelayMs`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { decideSize } from "./autoscale.ts";
 *
 * const seen = {
 *   range: { min: 1, max: 8 },
 *   current: 1,
 *   backlog: 2000,
 *   busySlots: 1,
 *   slotsPerWorker: 1,
 *   providerPaused: false,
 *   memoryMaxWorkers: undefined,
 *   nowMs: 60_000,
 *   roomSinceMs: undefined,
 *   lastChangeAtMs: undefined,
 *   scaleDownDelayMs: 30_000,
 * };
 * assert.equal(decideSize(seen).desired, 8);
 * assert.equal(decideSize({ ...seen, backlog: 0, busySlots: 0, roomSinceMs: 0 }).desired, 1);
 * ```
 */
export function decideSize(inputs: AutoscaleInputs): AutoscaleDecision {
  const { range, current, backlog, nowMs } = inputs;
  const hold = (reason: AutoscaleReason, detail: string) => ({ desired: current, reason, detail });
  if (current < range.min) {
    return { desired: range.min, reason: "below_min", detail: `below the minimum ${range.min}` };
  }
  if (current > range.max) {
    return { desired: range.max, reason: "above_max", detail: `above the maximum ${range.max}` };
  }
  if (backlog > 0) {
    const waiting = `${backlog} job(s) waiting`;
    if (current >= range.max) return hold("at_max", `${waiting}, at the maximum ${range.max}`);
    if (inputs.providerPaused) {
      return hold("provider_paused", `${waiting}, but the provider is paused`);
    }
    const ceiling = Math.min(range.max, inputs.memoryMaxWorkers ?? range.max);
    if (current >= ceiling) {
      return hold("memory", `${waiting}, but the memory fits no more than ${ceiling} worker(s)`);
    }
    if (inputs.llmMaxWorkers !== undefined && current >= inputs.llmMaxWorkers) {
      return hold(
        "llm_bound",
        `${waiting}, but LLM_MAX_IN_FLIGHT gives no share to more than ${inputs.llmMaxWorkers} worker(s)`,
      );
    }
    const needed = Math.ceil(backlog / Math.max(1, inputs.slotsPerWorker));
    const desired = Math.min(ceiling, inputs.llmMaxWorkers ?? ceiling, current + needed);
    return { desired, reason: "backlog", detail: waiting };
  }
  if (current > range.min && inputs.roomSinceMs !== undefined && hasRoomForOneFewer(inputs)) {
    const roomMs = nowMs - inputs.roomSinceMs;
    const quietMs = Math.min(
      roomMs,
      inputs.lastChangeAtMs === undefined ? Infinity : nowMs - inputs.lastChangeAtMs,
    );
    const idleFor = `room for one worker fewer for ${Math.round(roomMs / 1000)} s` +
      (quietMs < roomMs ? `, ${Math.round(quietMs / 1000)} s since the last change of size` : "");
    if (quietMs >= inputs.scaleDownDelayMs) {
      return { desired: current - 1, reason: "idle", detail: idleFor };
    }
    return hold("cooling_down", idleFor);
  }
  return hold("steady", "nothing waiting");
}
