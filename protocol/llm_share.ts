/** How a worker's share of `LLM_MAX_IN_FLIGHT` is split over its LLM queues (`--llm-slots a,b`). */

/**
 * Splits `share` calls over `queues` LLM queues: equal parts, the remainder to the queues from
 * `rotation` on (each worker starts at another queue, so that no queue is left without calls
 * in the container while the bound allows one for each).
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { splitShare } from "./llm_share.ts";
 *
 * assert.deepEqual(splitShare(1, 2, 0), [1, 0]);
 * assert.deepEqual(splitShare(1, 2, 1), [0, 1]);
 * assert.deepEqual(splitShare(5, 2, 0), [3, 2]);
 * ```
 */
export function splitShare(share: number, queues: number, rotation: number): number[] {
  return Array.from({ length: queues }, (_, position) => {
    const turn = (position - rotation % queues + queues) % queues;
    return Math.floor(share / queues) + (turn < share % queues ? 1 : 0);
  });
}

/** The `--llm-slots` value: calls per LLM queue, comma-separated. */
export function formatLlmSlots(slots: number[]): string {
  return slots.join(",");
}

/** Parses an `--llm-slots` value; `undefined` if it is not non-negative integers. */
export function parseLlmSlots(text: string): number[] | undefined {
  const slots = text.split(",").map(Number);
  return slots.every((slot) => Number.isInteger(slot) && slot >= 0) ? slots : undefined;
}
