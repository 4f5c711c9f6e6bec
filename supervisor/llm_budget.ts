/**
 * How many LLM calls this container may have in flight (`LLM_MAX_IN_FLIGHT`), how they are
 * shared by its workers, and whether the configuration could outgrow the container's memory.
 * The figures are those `deno task bench` measured (docs/performance.md); a call's process
 * is its provider's (`callProcess` in `providers/provider.ts`).
 */

import type { CallProcess } from "../providers/provider.ts";

/** RSS of a busy worker process, rounded up from the bench (about 80 MB). */
export const WORKER_MB = 100;
/** RSS of the supervisor, rounded up from the bench. */
export const SUPERVISOR_MB = 100;
/** Share of the container's memory the default leaves for LLM calls and processes. */
const USABLE_SHARE = 0.9;

/** What the budget is computed from. */
export interface BudgetInputs {
  /** The container's memory limit (cgroup), else the machine's; `undefined` if unknown. */
  memoryBytes: number | undefined;
  workerCount: number;
  /**
   * The most workers the pool may grow to (SIGTTIN, `scale`, autoscaling): the bound is kept
   * whenever that many could pass it, since it follows every change of size.
   * @default {workerCount}
   */
  maxWorkerCount?: number;
  /** Jobs in flight per worker and LLM queue (`WORKER_CONCURRENCY`). */
  concurrency: number;
  /** How many of the worker's queues are LLM queues. */
  llmQueues: number;
  /** The process each call of the default provider runs (the Claude CLI's); `undefined`: none. */
  callProcess: CallProcess | undefined;
  /** `LLM_MAX_IN_FLIGHT`, if set. */
  configured: number | undefined;
}

/** The container's LLM budget. */
export interface LlmBudget {
  /** Most LLM calls in flight in the container; `undefined`: no bound beyond the slots. */
  limit: number | undefined;
  /** What the start-up log says about the bound, with its arithmetic. */
  explanation: string;
  /** Set when the worst case could exceed the container's memory: the arithmetic. */
  warning?: string;
}

const mb = (bytes: number) => Math.floor(bytes / 1048576);

/**
 * The bound: `LLM_MAX_IN_FLIGHT` when set; else, with a process per call (the Claude CLI), the calls that fit in
 * 90 % of the memory once the supervisor and the workers have theirs (at least 1); else none.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { llmBudget } from "./llm_budget.ts";
 *
 * const budget = llmBudget({
 *   memoryBytes: 8 * 1024 ** 3,
 *   workerCount: 4,
 *   concurrency: 8,
 *   llmQueues: 1,
 *   callProcess: { what: "Claude CLI call", memoryMb: 300 },
 *   configured: undefined,
 * });
 * assert.equal(budget.limit, 22); // (8192 MB x 0.9 - 100 MB - 4 x 100 MB) / 300 MB
 * ```
 */
export function llmBudget(inputs: BudgetInputs): LlmBudget {
  const { memoryBytes, workerCount, concurrency, llmQueues, callProcess, configured } = inputs;
  const slots = Math.max(workerCount, inputs.maxWorkerCount ?? workerCount) * concurrency *
    llmQueues;
  const overheadMb = SUPERVISOR_MB + workerCount * WORKER_MB;
  let limit = configured;
  let explanation: string;
  if (configured !== undefined) {
    explanation = `LLM_MAX_IN_FLIGHT=${configured}`;
  } else if (!callProcess) {
    explanation = "no bound: an API call in flight costs the worker little memory";
  } else if (memoryBytes === undefined) {
    explanation = "no bound: the container's memory is unknown (set LLM_MAX_IN_FLIGHT)";
  } else {
    const fitting = Math.floor(
      (mb(memoryBytes) * USABLE_SHARE - overheadMb) / callProcess.memoryMb,
    );
    limit = Math.max(1, fitting);
    explanation = `default: (${mb(memoryBytes)} MB x ${USABLE_SHARE} - ${SUPERVISOR_MB} MB ` +
      `supervisor - ${workerCount} x ${WORKER_MB} MB workers) / ${callProcess.memoryMb} MB per ` +
      `${callProcess.what} = ${fitting}${fitting < 1 ? ", at least 1" : ""}`;
  }
  if (limit !== undefined && limit >= slots) {
    explanation +=
      `; the ${slots} job slots (${slots / concurrency / llmQueues} workers x ${concurrency}` +
      `${llmQueues > 1 ? ` x ${llmQueues} LLM queues` : ""}) stay under it`;
    limit = undefined;
  }
  const calls = limit ?? workerCount * concurrency * llmQueues;
  const worstMb = overheadMb + (callProcess ? calls * callProcess.memoryMb : 0);
  const warning = memoryBytes !== undefined && worstMb > mb(memoryBytes)
    ? `worst case ${SUPERVISOR_MB} MB supervisor + ${workerCount} x ${WORKER_MB} MB workers` +
      (callProcess ? ` + ${calls} ${callProcess.what}s x ${callProcess.memoryMb} MB` : "") +
      ` = ${worstMb} MB is more than the container's ${mb(memoryBytes)} MB` +
      (callProcess ? ": lower LLM_MAX_IN_FLIGHT, WORKER_CONCURRENCY or WORKER_COUNT" : "")
    : undefined;
  return { limit, explanation, warning };
}

/**
 * Worker `index`'s share (1-based) of `limit` calls over `workerCount` workers: equal shares,
 * the first ones one more when it does not divide; `index` past `workerCount` gets none.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { llmShare } from "./llm_budget.ts";
 *
 * assert.deepEqual([1, 2, 3, 4].map((index) => llmShare(index, 4, 6)), [2, 2, 1, 1]);
 * ```
 */
export function llmShare(index: number, workerCount: number, limit: number): number {
  if (index > workerCount) return 0;
  return Math.floor(limit / workerCount) + (index <= limit % workerCount ? 1 : 0);
}

/**
 * The most worker processes the container's memory holds with `llmCalls` calls of
 * `callProcess` in flight: the arithmetic of the default bound, solved for the workers (90 %
 * of the memory, less the supervisor and the calls, over 100 MB per worker), at least 1;
 * `undefined` when the memory is unknown.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { workersMemoryHolds } from "./llm_budget.ts";
 *
 * const cli = { what: "Claude CLI call", memoryMb: 300 };
 * assert.equal(workersMemoryHolds(4 * 1024 ** 3, 8, cli), 11); // (4096 x 0.9 - 100 - 8 x 300) / 100
 * assert.equal(workersMemoryHolds(undefined, 8, cli), undefined);
 * ```
 */
export function workersMemoryHolds(
  memoryBytes: number | undefined,
  llmCalls: number,
  callProcess: CallProcess | undefined,
): number | undefined {
  if (memoryBytes === undefined) return undefined;
  const callsMb = callProcess ? llmCalls * callProcess.memoryMb : 0;
  return Math.max(
    1,
    Math.floor((mb(memoryBytes) * USABLE_SHARE - SUPERVISOR_MB - callsMb) / WORKER_MB),
  );
}
