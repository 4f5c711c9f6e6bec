/** Bounded waiting for tests: every wait has a deadline and says what it waited for. */

import { delay } from "../async/mod.ts";

/** How long and how often `waitUntil` checks, and what it waits for. */
export interface WaitOptions {
  /** @default {20000} */
  timeoutMs?: number;
  /** @default {50} */
  intervalMs?: number;
  /** Named in the error when the deadline passes. */
  what: string;
}

/**
 * Polls `check` until it returns a value other than `undefined`/`false`, and returns it.
 * Throws `timed out after N ms waiting for <what>` at the deadline.
 */
export async function waitUntil<T>(
  check: () => T | Promise<T>,
  options: WaitOptions,
): Promise<Exclude<T, false | undefined>> {
  const { timeoutMs = 20_000, intervalMs = 50, what } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as Exclude<T, false | undefined>;
    } catch (error) {
      lastError = error;
    }
    await delay(intervalMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${
      lastError ? ` (last error: ${lastError})` : ""
    }`,
  );
}

/** Whether a process with this pid runs (a zombie, dead but not yet reaped, does not). */
export function processExists(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}
