/** The Redis keys ppr-worker owns (BullMQ's own keys live under its prefix). */

/** Registration of one worker process, refreshed by its heartbeat, gone by TTL when it dies. */
export function workerKey(name: string): string {
  return `ppr:worker:${name}`;
}

/** `SCAN` pattern of every worker registration. */
export const WORKER_KEY_PATTERN = "ppr:worker:*";
