/** The jobs a worker process is running now: what the supervisor must give back if the process dies. */

import type { HeldJob } from "../protocol/messages.ts";

/** A job in flight: its lock token, the abort of its LLM call, and whether it is to be given back. */
export interface InFlightJob extends HeldJob {
  controller: AbortController;
  /** Set when the job is to go back to the queue instead of finishing. */
  giveBack: boolean;
}

/** The jobs in flight, keyed by queue and id. */
export function createInFlight() {
  const jobs = new Map<string, InFlightJob>();
  const keyOf = (queue: string, id: string) => `${queue}\u0000${id}`;
  return {
    get size(): number {
      return jobs.size;
    },
    add(queue: string, id: string, token: string): InFlightJob {
      const job: InFlightJob = {
        queue,
        id,
        token,
        controller: new AbortController(),
        giveBack: false,
      };
      jobs.set(keyOf(queue, id), job);
      return job;
    },
    remove(job: InFlightJob): void {
      jobs.delete(keyOf(job.queue, job.id));
    },
    /** What a heartbeat reports: queue, id and lock token of each. */
    held(): HeldJob[] {
      return [...jobs.values()].map(({ queue, id, token }) => ({ queue, id, token }));
    },
    /** Aborts every job in flight and marks it to be given back. Returns how many. */
    giveBackAll(why: string): number {
      for (const job of jobs.values()) {
        job.giveBack = true;
        job.controller.abort(new Error(why));
      }
      return jobs.size;
    },
  };
}

/** The jobs a worker process runs now. */
export type InFlight = ReturnType<typeof createInFlight>;
