/** The memory this container may use, and each worker's share of it as a V8 heap limit. */

/** Where cgroup v2 and v1 state the container's memory limit. */
const CGROUP_LIMITS = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"];
/** cgroup v1 says "no limit" with a huge number. */
const NO_LIMIT_BYTES = 2 ** 60;

/**
 * The container's memory limit in bytes (cgroup v2, then v1), else the machine's memory,
 * else `undefined` when neither can be read.
 */
export function memoryLimitBytes(): number | undefined {
  for (const path of CGROUP_LIMITS) {
    try {
      const text = Deno.readTextFileSync(path).trim();
      const bytes = Number(text);
      if (text !== "max" && Number.isFinite(bytes) && bytes > 0 && bytes < NO_LIMIT_BYTES) {
        return bytes;
      }
    } catch {
      // Not this cgroup version, or not readable.
    }
  }
  try {
    return Deno.systemMemoryInfo().total;
  } catch {
    return undefined;
  }
}

/**
 * Each worker's V8 heap limit in MB: 60 % of the memory limit shared by `workerCount`
 * workers (the rest is for the supervisor, native memory and the LLM CLIs), at least 128 MB.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { heapLimitMb } from "./memory_limit.ts";
 *
 * assert.equal(heapLimitMb(2 * 1024 ** 3, 4), 307);
 * assert.equal(heapLimitMb(512 * 1024 ** 2, 20), 128);
 * ```
 */
export function heapLimitMb(limitBytes: number, workerCount: number): number {
  return Math.max(128, Math.floor((limitBytes * 0.6) / workerCount / 1048576));
}
