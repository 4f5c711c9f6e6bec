/**
 * The ledger of `LLM_MAX_IN_FLIGHT` in a pool whose size changes: what each worker process may
 * have in flight, the share each should have, and the `llm-slots` commands that move one to
 * the other without the sum ever passing the bound. Shares shrink first; freed calls go to
 * other workers only once the shrunk worker answers that its calls fit, or has exited.
 */

import type { ChildCommand } from "../protocol/messages.ts";
import { splitShare } from "../protocol/llm_share.ts";
import { llmShare } from "./llm_budget.ts";

/** What the ledger splits, and over how many LLM queues. */
export interface LedgerOptions {
  /** `LLM_MAX_IN_FLIGHT` (or its default): most LLM calls in flight in the container. */
  limit: number;
  /** How many LLM queues each worker serves. */
  llmQueues: number;
  /** `WORKER_CONCURRENCY`: no queue's share in one worker goes past it. */
  concurrency: number;
}

/**
 * The share per LLM queue of the worker in slot `index`, among the slots `stayingIndices` of
 * the pool: `LLM_MAX_IN_FLIGHT` split equally by position (the first ones one more when it
 * does not divide), each worker's split over its LLM queues from another queue on, each queue
 * at most `concurrency`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { targetSlots } from "./llm_ledger.ts";
 *
 * const options = { limit: 3, llmQueues: 1, concurrency: 4 };
 * assert.deepEqual(targetSlots(options, 1, [1]), [3]);
 * assert.deepEqual([1, 2, 5, 6].map((index) => targetSlots(options, index, [1, 2, 5, 6])), [[1], [1], [1], [0]]);
 * ```
 */
export function targetSlots(
  options: LedgerOptions,
  index: number,
  stayingIndices: number[],
): number[] {
  const sorted = [...new Set([...stayingIndices, index])].sort((a, b) => a - b);
  const share = llmShare(sorted.indexOf(index) + 1, sorted.length, options.limit);
  return splitShare(share, options.llmQueues, index - 1).map((slots) =>
    Math.min(slots, options.concurrency)
  );
}

/** One worker process as the ledger counts it. */
export interface Holding {
  /** What it may have in flight per LLM queue: its last answered share, or more if more was sent since. */
  bound: number[];
  /** The share it should have; `undefined` for a process that is going away (it keeps its bound until it exits). */
  target: number[] | undefined;
}

/**
 * The share to send each holding (in order; `undefined`: none to send): a shrinking queue gets
 * its target at once (its bound holds until the process answers), a growing one as much of its
 * target as the calls no other holding may be using allow, first come first served. The sum of
 * the bounds after every grant stays within `limit`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { planShares } from "./llm_ledger.ts";
 *
 * // One worker held all 3; a second joins: the first shrinks to 2, the second waits for it.
 * assert.deepEqual(planShares(3, [{ bound: [3], target: [2] }, { bound: [0], target: [1] }]), [[2], [0]]);
 * // The first answered: its calls fit 2. The freed call goes to the second.
 * assert.deepEqual(planShares(3, [{ bound: [2], target: [2] }, { bound: [0], target: [1] }]), [[2], [1]]);
 * ```
 */
export function planShares(limit: number, holdings: Holding[]): (number[] | undefined)[] {
  let free = limit - holdings.reduce((sum, { bound }) => sum + bound.reduce((a, b) => a + b, 0), 0);
  return holdings.map(({ bound, target }) => {
    if (!target) return undefined;
    return target.map((wanted, queue) => {
      if (wanted <= bound[queue]) return wanted;
      const granted = Math.max(0, Math.min(wanted - bound[queue], free));
      free -= granted;
      return bound[queue] + granted;
    });
  });
}

interface Entry {
  bound: number[];
  sent: number[];
  seq: number;
  send(command: ChildCommand): void;
}

/** A serving slot of the pool: its index and the process serving it now, if any. */
export interface ServingSlot<Key extends object> {
  index: number;
  process: Key | undefined;
}

/**
 * The ledger of a pool's LLM calls, keyed by process (`Key`: the pool's handle). The supervisor
 * asks it the share of a process it starts (`admit`), tells it what each process answered and
 * when one exits, and calls `resplit` after every change: it sends the `llm-slots` commands.
 */
export function createLlmLedger<Key extends object>(options: LedgerOptions) {
  const entries = new Map<Key, Entry>();
  const zero = () => Array.from({ length: options.llmQueues }, () => 0);
  let seq = 0;
  const sumOf = (slots: number[]) => slots.reduce((a, b) => a + b, 0);
  return {
    /**
     * The share a process about to start in slot `index` may have at once (the rest comes with
     * `resplit` as other processes give theirs up); record it with `started`.
     */
    admit(index: number, stayingIndices: number[]): number[] {
      const holdings = [...entries.values()].map(({ bound }) => ({ bound, target: undefined }));
      const plan = planShares(options.limit, [
        ...holdings,
        { bound: zero(), target: targetSlots(options, index, stayingIndices) },
      ]);
      return plan[plan.length - 1]!;
    },
    /** A process started with `slots` (from `admit`); `send` writes to its stdin. */
    started(process: Key, slots: number[], send: (command: ChildCommand) => void): void {
      entries.set(process, { bound: [...slots], sent: [...slots], seq: 0, send });
    },
    /** A process answered `llm-slots` number `answeredSeq`: its calls fit `slots`. */
    answered(process: Key, slots: number[], answeredSeq: number): void {
      const entry = entries.get(process);
      if (entry && entry.seq === answeredSeq) entry.bound = [...slots];
    },
    /** A process exited: whatever it held is free. */
    exited(process: Key): void {
      entries.delete(process);
    },
    /**
     * Moves every process toward its share among `serving` (the slots that stay, each with
     * its current process); a process not among them is going away and keeps its bound.
     */
    resplit(serving: ServingSlot<Key>[]): void {
      const staying = serving.map(({ index }) => index);
      const indexOf = new Map(
        serving.flatMap(({ index, process }) =>
          process === undefined ? [] : [[process, index] as const]
        ),
      );
      const keys = [...entries.keys()].sort((a, b) =>
        (indexOf.get(a) ?? Infinity) - (indexOf.get(b) ?? Infinity)
      );
      const plan = planShares(
        options.limit,
        keys.map((key) => {
          const index = indexOf.get(key);
          return {
            bound: entries.get(key)!.bound,
            target: index === undefined ? undefined : targetSlots(options, index, staying),
          };
        }),
      );
      keys.forEach((key, position) => {
        const next = plan[position];
        const entry = entries.get(key)!;
        if (!next || next.every((slots, queue) => slots === entry.sent[queue])) return;
        entry.seq = ++seq;
        entry.sent = next;
        entry.bound = entry.bound.map((bound, queue) => Math.max(bound, next[queue]));
        entry.send({ command: "llm-slots", slots: next, seq: entry.seq });
      });
    },
    /** The calls the processes may have in flight now, at most the limit. */
    inUse(): number {
      return [...entries.values()].reduce((sum, { bound }) => sum + sumOf(bound), 0);
    },
  };
}

/** A pool's ledger of LLM calls. */
export type LlmLedger<Key extends object> = ReturnType<typeof createLlmLedger<Key>>;
