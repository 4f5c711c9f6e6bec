/** Worker registrations as tests need them: one whose heartbeat is a given age. */

import type { Registration } from "../redis/registrations.ts";

/**
 * The registration of worker `name` on host `h` whose last heartbeat was `heartbeatAgoMs` before
 * `now`; `undefined`: a heartbeat that is no date (`never`).
 */
export function registrationAged(
  name: string,
  heartbeatAgoMs: number | undefined,
  now: number,
): Registration {
  return {
    name,
    hostname: "h",
    pid: 1,
    queues: ["llm"],
    started_at: "2026-01-01T00:00:00Z",
    heartbeat_at: heartbeatAgoMs === undefined
      ? "never"
      : new Date(now - heartbeatAgoMs).toISOString(),
    active_jobs: 0,
    processed: 0,
    failed: 0,
  };
}
