/** An autoscaler's record as the supervisor writes it, for the tests of what shows it. */

import type { AutoscaleRecord } from "../redis/autoscale_records.ts";

/** A pool of web1 at 3 workers of 1 to 8 that wants 5 for its backlog, with `changes` over it. */
export function autoscaleRecord(changes: Partial<AutoscaleRecord> = {}): AutoscaleRecord {
  return {
    hostname: "web1",
    pool: null,
    min: 1,
    max: 8,
    size: 3,
    desired: 5,
    reason: "backlog",
    detail: "12 jobs wait for 3 free slots",
    at: "2026-12-07T19:00:00.000Z",
    ...changes,
  };
}
