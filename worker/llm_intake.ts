/**
 * Whether this process's LLM queues take jobs: not while the default provider is paused, and
 * not while the worker it replaces still runs its calls (that worker's share of
 * `LLM_MAX_IN_FLIGHT` is still in use: the supervisor says `take-llm-jobs` once it has gone).
 */

import type { Worker } from "bullmq/worker";

/** Creates the gate; with `held`, it stays shut until `release()`. */
export function createLlmIntake(held: boolean) {
  const workers: Worker[] = [];
  let providerPaused = false;
  let waiting = held;
  const apply = () => {
    const open = !providerPaused && !waiting;
    // `resume()` also starts a Worker made without `autorun`, the way a held one is made.
    for (const worker of workers) open ? void worker.resume() : void worker.pause(true);
  };
  return {
    /** Whether a new Worker is to start at once (`autorun`). */
    get open(): boolean {
      return !providerPaused && !waiting;
    },
    /** Puts an LLM queue's Worker behind the gate. */
    add(worker: Worker): void {
      workers.push(worker);
    },
    /** The default provider's pause began (`true`) or ended. */
    setProviderPaused(paused: boolean): void {
      providerPaused = paused;
      apply();
    },
    /** The replaced worker has gone: take LLM jobs (unless the provider is paused). */
    release(): void {
      if (!waiting) return;
      waiting = false;
      apply();
    },
  };
}

/** The gate of a process's LLM intake. */
export type LlmIntake = ReturnType<typeof createLlmIntake>;
