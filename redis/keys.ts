/** The Redis keys ppr-worker owns (BullMQ's own keys live under its prefix). */

/** Registration of one worker process, refreshed by its heartbeat, gone by TTL when it dies. */
export function workerKey(name: string): string {
  return `ppr:worker:${name}`;
}

/** `SCAN` pattern of every worker registration. */
export const WORKER_KEY_PATTERN = "ppr:worker:*";

/** The shared pause of one LLM provider (auth or quota), seen by every worker of every container. */
export function pauseKey(provider: string): string {
  return `ppr:llm:pause:${provider}`;
}

/**
 * Every provider's pauses, as a stream: an entry when a pause starts (`provider`, `state`,
 * `retry_at`) and when one is ended early (`provider`, `event` `end`); its id is the moment.
 */
export const PAUSE_HISTORY_KEY = "ppr:llm:pause-history";

/** Quota pauses in a row of one provider; each lasts 1.5 times the one before. */
export function quotaStrikesKey(provider: string): string {
  return `ppr:llm:quota-strikes:${provider}`;
}

/** The causes of the worker deaths a job was running in (`signal SIGKILL`, ...), one per crash. */
export function jobCrashesKey(prefix: string, queue: string, id: string): string {
  return `ppr:job-crashes:${prefix}:${queue}:${id}`;
}

/** What a supervisor's Redis probe writes, to see a Redis that answers but refuses writes. */
export function probeKey(hostname: string): string {
  return `ppr:probe:${hostname}`;
}

/** The autoscaler of one pool of one supervisor: its range and last decision, for `info`. */
export function autoscaleKey(hostname: string, pool: string | null): string {
  return `ppr:autoscale:${hostname}${pool === null ? "" : `:${pool}`}`;
}

/** Every autoscaler's record. */
export const AUTOSCALE_KEY_PATTERN = "ppr:autoscale:*";

/** The lease of one hostname: the supervisor that holds it runs the pool of that name. */
export function hostnameLeaseKey(hostname: string): string {
  return `ppr:hostname:${hostname}`;
}

/**
 * The hash tag of a key as Redis Cluster reads it: the text between the first `{` and the first
 * `}` after it, when that text is not empty. Keys with the same tag share a slot, so one
 * script or transaction may touch them all; a key without one is hashed whole.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { hashTagOf } from "./keys.ts";
 *
 * assert.equal(hashTagOf("{ppr}:llm:wait"), "ppr");
 * assert.equal(hashTagOf("ppr:{llm}:call:1"), "llm");
 * assert.equal(hashTagOf("{}ppr"), undefined);
 * assert.equal(hashTagOf("bull"), undefined);
 * ```
 */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf("{");
  if (open < 0) return undefined;
  const close = key.indexOf("}", open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}

/** The number of hash slots of a Redis Cluster. */
export const CLUSTER_SLOTS = 16384;

/**
 * The Cluster slot of `key`, as `CLUSTER KEYSLOT` computes it: CRC16 (XMODEM) of its hash tag
 * (see {@link hashTagOf}), or of the whole key when it has none, modulo 16384.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { keySlot } from "./keys.ts";
 *
 * assert.equal(keySlot("123456789"), 12739);
 * assert.equal(keySlot("{ppr}:llm:meta"), keySlot("ppr"));
 * ```
 */
export function keySlot(key: string): number {
  const bytes = new TextEncoder().encode(hashTagOf(key) ?? key);
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc % CLUSTER_SLOTS;
}

/** The pub/sub channel of `ppr-worker scale`'s requests, which every supervisor listens to. */
export const SCALE_CHANNEL = "ppr:scale";

/** The pub/sub channel where the supervisors answer the `scale` request `id`. */
export function scaleAnswersChannel(id: string): string {
  return `ppr:scale:answers:${id}`;
}
