/**
 * Whether this process's LLM queues take jobs: not while the default provider is paused, and
 * not while the worker it replaces still runs its calls (that worker's share of
 * `LLM_MAX_IN_FLIGHT` is still in use: the supervisor says `take-llm-jobs` once it has gone).
 */

import type { Worker } from "../redis/bullmq_internals.ts";

/** Creates the gate; with `held`, it stays shut until `release()`. */
export function createLlmIntake(held: boolean, onError: (error: unknown) => void) {
  const workers: Worker[] = [];
  let providerPaused = false;
  let waiting = held;
  const isOpen = () => !providerPaused && !waiting;
  const apply = () => {
    for (const worker of workers) {
      if (!isOpen()) void worker.pause(true);
      else if (worker.isPaused()) void worker.resume();
      // A held Worker was made without `autorun` (never paused): started here, its failure handled.
      else if (!worker.isRunning()) worker.run().catch(onError);
    }
  };
  return {
    /** Whether a new Worker is to start at once (`autorun`). */
    get open(): boolean {
      return isOpen();
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
