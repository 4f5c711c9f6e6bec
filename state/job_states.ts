/** BullMQ's job states as the readers count them and the commands list them: a constant without BullMQ behind it. */

import type { STATE_KEYS } from "../redis/bullmq_internals.ts";

/** The job states the readers count and the commands list, in BullMQ's words, in the order they are shown. */
export const JOB_STATES = [
  "waiting",
  "prioritized",
  "active",
  "delayed",
  "completed",
  "failed",
] as const satisfies readonly (keyof typeof STATE_KEYS)[];

/** One of {@link JOB_STATES}. */
export type JobState = (typeof JOB_STATES)[number];
