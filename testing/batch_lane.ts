/** The batch lane as the tests run it: its quick settings, waiting for its jobs to finish, and what the stub was sent. */

import type { Job, Queue } from "bullmq";
import { userTextOf } from "./stub_batch_entry.ts";
import type { StubMessageBatches } from "./stub_message_batches.ts";
import { waitUntil } from "./wait.ts";

/** The batch lane's settings for a test: small batches, short waits, quick looks. */
export const FAST_LANE = {
  BATCH_MAX_JOBS: "5",
  BATCH_MAX_WAIT: "1s",
  BATCH_POLL_INTERVAL: "200ms",
};

/**
 * Waits (at most `timeoutMs`) until every job of `jobs` has completed or failed; returns them as
 * they are then.
 */
export async function allFinished(queue: Queue, jobs: Job[], timeoutMs = 60_000): Promise<Job[]> {
  await waitUntil(async () => {
    const states = await Promise.all(jobs.map((job) => job.getState()));
    return states.every((state) => state === "completed" || state === "failed");
  }, { what: `${jobs.length} job(s) to finish`, timeoutMs });
  return await Promise.all(jobs.map(async (job) => (await queue.getJob(job.id!))!));
}

/** How many of the Message Batches stub's batches each prompt (a request's user text) was sent in. */
export function batchesPerPrompt(stub: Pick<StubMessageBatches, "batches">): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { requests } of stub.batches()) {
    for (const request of requests) {
      const prompt = userTextOf(request.params);
      counts.set(prompt, (counts.get(prompt) ?? 0) + 1);
    }
  }
  return counts;
}
