/**
 * Whether this process's LLM queues take jobs: not before the provider pauses have been read
 * once (a worker started during a pause would take a job first), not while the default provider is
 * paused (except the queues whose jobs are collected for a batch: the desk holds the batch back
 * instead), not while the worker it replaces still runs its calls (that worker's share of
 * `LLM_MAX_IN_FLIGHT` is still in use: the supervisor says `take-llm-jobs` once it has gone),
 * and not from a queue whose share here is 0 (`llm-slots`).
 */

import type { Worker } from "../redis/bullmq_internals.ts";

/**
 * Creates the gate; with `held`, it stays shut until `release()`. A provider pause leaves the
 * Workers of `collectingQueues` (`LLM_BATCH_QUEUES`) open: collecting a job calls no provider.
 */
export function createLlmIntake(
  held: boolean,
  onError: (error: unknown) => void,
  collectingQueues: readonly string[] = [],
) {
  const workers: Worker[] = [];
  /** Queues whose share of LLM calls in this process is 0: their Workers take nothing. */
  const withoutShare = new Set<string>();
  let providerPaused = false;
  let pausesUnread = true;
  let waiting = held;
  /** Whether a provider pause shuts `queue`'s Worker. */
  const shutByPause = (queue: string) => !collectingQueues.includes(queue);
  const opens = (queue: string) =>
    !pausesUnread && !waiting && !withoutShare.has(queue) &&
    !(providerPaused && shutByPause(queue));
  const apply = () => {
    for (const worker of workers) {
      if (!opens(worker.name)) void worker.pause(true);
      else if (worker.isPaused()) void worker.resume();
      // A held Worker was made without `autorun` (never paused): started here, its failure handled.
      else if (!worker.isRunning()) worker.run().catch(onError);
    }
  };
  return {
    /** Whether the Worker of `queue`, made now, is to start at once (`autorun`). */
    opens,
    /** Whether a provider pause shuts the Worker of `queue` (not one of `collectingQueues`). */
    shutByPause,
    /** Puts an LLM queue's Worker behind the gate. */
    add(worker: Worker): void {
      workers.push(worker);
    },
    /** The default provider's pause began (`true`) or ended. */
    setProviderPaused(paused: boolean): void {
      providerPaused = paused;
      apply();
    },
    /** The provider pauses have been read once (`setProviderPaused` has told any pause found). */
    pausesRead(): void {
      if (!pausesUnread) return;
      pausesUnread = false;
      apply();
    },
    /** The replaced worker has gone: take LLM jobs (unless the provider is paused). */
    release(): void {
      if (!waiting) return;
      waiting = false;
      apply();
    },
    /**
     * `queue`'s share here became `slots`, taken `concurrency` at once: a Worker with none takes
     * nothing, one with some resumes.
     */
    setShare(queue: string, slots: number, concurrency: number): void {
      for (const worker of workers) if (worker.name === queue) worker.concurrency = concurrency;
      if ((slots === 0) === withoutShare.has(queue)) return;
      if (slots === 0) withoutShare.add(queue);
      else withoutShare.delete(queue);
      apply();
    },
  };
}

/** The gate of a process's LLM intake. */
export type LlmIntake = ReturnType<typeof createLlmIntake>;
